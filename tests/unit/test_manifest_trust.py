"""Manifests are trusted from the data dir only; other folders on the user's word, held to the
same rules (issue 13, item 13)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cjm_docker.config import load_config
from cjm_docker.host.manager import PluginManager


def _manifest(name: str, **runtime) -> dict:
    return {"name": name, "module": "m.plugin", "class": "C", "image": "i:1", "runtime": runtime}


def _write(folder: Path, manifest: dict, file_name: str | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / (file_name or f"{manifest['name']}.json")).write_text(json.dumps(manifest))


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A cloned repository with its own .cjm/manifests, as the current directory."""
    repo = tmp_path / "work" / "cloned" / "repo"
    _write(repo / ".cjm" / "manifests", _manifest("from-cwd"))
    _write(repo / ".cjm" / "manifests",
           _manifest("mounts-etc", volumes=[{"source": "/etc", "target": "/host-etc"}]))
    _write(repo / ".cjm" / "manifests",
           _manifest("mounts-own", volumes=[{"source": str(repo / "data"), "target": "/d"}]))
    monkeypatch.chdir(repo)
    return repo


def test_a_manifest_in_the_current_directory_is_not_searched(project, tmp_path):
    config = load_config(data_dir=tmp_path / "data")
    _write(config.manifests_dir, _manifest("installed"))
    manager = PluginManager(config=config)
    assert [m.name for m in manager.discover_manifests()] == ["installed"]


def test_an_opted_in_folder_is_searched_with_the_same_rules(project, tmp_path):
    (project / "cjm.yaml").write_text(f"data_dir: {tmp_path / 'data'}\n"
                                      "manifest_search_paths: [.cjm/manifests]\n")
    config = load_config()
    manager = PluginManager(config=config)
    found = {m.name for m in manager.discover_manifests()}
    assert found == {"from-cwd", "mounts-own"}
    refused = " ".join(manager.discovery_errors.values())
    assert "/etc" in refused and "outside the data dir" in refused


@pytest.mark.parametrize("source", ["/", "/etc", "/var/run/docker.sock", "/home", "/root/.ssh",
                                    "/proc/1"])
def test_a_foreign_manifest_cannot_bind_a_system_folder(tmp_path, source):
    folder = tmp_path / "elsewhere" / "deploy" / "manifests"
    _write(folder, _manifest("x", volumes=[{"source": source, "target": "/t"}]))
    config = load_config(data_dir=tmp_path / "data")
    manager = PluginManager(search_paths=[folder], config=config)
    assert manager.discover_manifests() == []
    assert "outside the data dir" in " ".join(manager.discovery_errors.values())


def test_a_foreign_manifest_cannot_bind_the_data_or_runtime_dir(tmp_path):
    config = load_config(data_dir=tmp_path / "work" / "data")
    folder = tmp_path / "work" / "proj" / "manifests"
    _write(folder, _manifest("x", volumes=[{"source": str(config.data_dir), "target": "/t"}]))
    manager = PluginManager(search_paths=[folder], config=config)
    assert manager.discover_manifests() == []


def test_the_data_dirs_own_manifests_are_trusted_as_written(tmp_path):
    config = load_config(data_dir=tmp_path / "data")
    _write(config.manifests_dir, _manifest("mine", volumes=[{"source": "/srv", "target": "/s"}]))
    assert [m.name for m in PluginManager(config=config).discover_manifests()] == ["mine"]


def test_a_manifest_not_named_after_its_plugin_is_refused(tmp_path):
    config = load_config(data_dir=tmp_path / "data")
    _write(config.manifests_dir, _manifest("victim"), file_name="other.json")
    manager = PluginManager(config=config)
    assert manager.discover_manifests() == []
    assert "not written by cjm-ctl" in " ".join(manager.discovery_errors.values())
