"""The one name rule holds at every boundary: plugins.yaml, a plugin's metadata, manifests on
disk, and every path built from a name stays in its folder (issue 13, item 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cjm_docker.errors import InvalidNameError, ManifestError, SpecError
from cjm_docker.manifest import Manifest, parse_manifest, read_manifest, write_manifest
from cjm_docker.name_rule import MAX_NAME_LENGTH, check_name, name_problem, path_for
from cjm_docker.spec.plugins_file import load_plugins_file

HOSTILE = ["..", ".", "", "a/b", "../etc", "a\n", "name\n", "/abs", "a..b", "-a", "a-", "a b",
           "a\x00b", "x" * (MAX_NAME_LENGTH + 1), "é", "a/../b", "a\\b"]
GOOD = ["cjm-example-echo", "a", "A1", "a.b", "a_b", "a__b", "a--b", "x" * MAX_NAME_LENGTH]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_break_the_rule(name):
    assert name_problem(name) is not None
    with pytest.raises(InvalidNameError):
        check_name(name)


@pytest.mark.parametrize("name", GOOD)
def test_usual_names_pass(name):
    assert check_name(name) == name


def test_a_name_that_is_not_a_string_is_refused():
    for value in (None, 3, b"abc", ["a"]):
        assert name_problem(value) is not None


def _manifest(name: str) -> dict:
    return {"name": name, "module": "m.plugin", "class": "C", "image": "i:1"}


@pytest.mark.parametrize("name", HOSTILE)
def test_a_manifest_with_a_hostile_name_is_refused(name):
    with pytest.raises(ManifestError, match="name"):
        parse_manifest(_manifest(name), source="test")


def test_a_manifest_on_disk_with_a_hostile_name_is_refused(tmp_path):
    path = tmp_path / "evil.json"
    path.write_text(json.dumps(_manifest("..")))
    with pytest.raises(ManifestError):
        read_manifest(path)


def test_write_manifest_never_leaves_its_folder(tmp_path):
    folder = tmp_path / "manifests"
    manifest = Manifest.model_validate(_manifest("ok"))
    assert write_manifest(manifest, folder) == folder / "ok.json"
    sneaky = manifest.model_copy(update={"name": "../escaped"})  # past validation, by hand
    with pytest.raises(InvalidNameError):
        write_manifest(sneaky, folder)
    assert not (tmp_path / "escaped.json").exists()


def test_path_for_refuses_a_planted_symlink(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    (root / "victim").symlink_to(tmp_path)
    with pytest.raises(InvalidNameError, match="directly"):
        path_for(root, "victim")
    assert path_for(root, "fine") == root / "fine"


@pytest.mark.parametrize("name", ["..", "a\n", "x" * (MAX_NAME_LENGTH + 1)])
def test_plugins_yaml_refuses_the_same_names(tmp_path: Path, name):
    path = tmp_path / "plugins.yaml"
    path.write_text(json.dumps({"plugins": [{"name": name, "package": "p"}]}))
    with pytest.raises(SpecError, match="name"):
        load_plugins_file(path)
