"""Package specs: classification and the name rules (cjm-plugin-system's, defects fixed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cjm_docker.errors import SpecError
from cjm_docker.spec import PackageKind, parse_package
from cjm_docker.spec.location import Location
from cjm_docker.spec.sources import normalize_name

WHERE = Location("plugins.yaml", "p", "package")
REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("spec,kind,dist,import_name,version", [
    ("cjm-graph-plugin-sqlite", PackageKind.REQUIREMENT, "cjm-graph-plugin-sqlite", "cjm_graph_plugin_sqlite", None),
    ("cjm-graph-plugin-sqlite==0.0.2", PackageKind.REQUIREMENT, "cjm-graph-plugin-sqlite", "cjm_graph_plugin_sqlite", "0.0.2"),
    ("cjm_text_plugin_nltk[extra]>=1.0,<2", PackageKind.REQUIREMENT, "cjm_text_plugin_nltk", "cjm_text_plugin_nltk", None),
    ("zope.interface", PackageKind.REQUIREMENT, "zope.interface", "zope_interface", None),
    ("git+https://github.com/cj-mills/cjm-text-plugin-nltk.git", PackageKind.VCS, "cjm-text-plugin-nltk", "cjm_text_plugin_nltk", None),
    ("git+https://github.com/o/repo.git@v1.2#egg=real-name", PackageKind.VCS, "real-name", "real_name", None),
    ("https://files.example/pkgs/cool_plugin-1.0-py3-none-any.whl", PackageKind.URL, "cool_plugin", "cool_plugin", None),
])
def test_remote_specs(spec, kind, dist, import_name, version) -> None:
    ref = parse_package(spec, Path("."), WHERE)
    assert (ref.kind, ref.dist_name, ref.import_name, ref.version) == (kind, dist, import_name, version)


def test_local_paths_read_pyproject() -> None:
    for spec in ("./examples/plugins/cjm-example-echo", "-e ./examples/plugins/cjm-example-echo",
                 str(REPO / "examples/plugins/cjm-example-echo")):
        ref = parse_package(spec, REPO, WHERE)
        assert ref.kind == PackageKind.LOCAL
        assert ref.dist_name == "cjm-example-echo"
        assert ref.import_name == "cjm_example_echo"
        assert ref.project is not None and ref.project.dependencies == ()
        assert ref.project.build_requires == ("hatchling>=1.21",)


def test_local_import_name_follows_meta_py(tmp_path: Path) -> None:
    (tmp_path / "src" / "odd_module").mkdir(parents=True)
    (tmp_path / "src" / "odd_module" / "meta.py").write_text("")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "Some-Dist"\ndynamic = ["dependencies"]\n')
    ref = parse_package(str(tmp_path), Path("/"), WHERE)
    assert ref.import_name == "odd_module"
    assert ref.project is not None and ref.project.dependencies is None
    assert ref.project.build_requires == ("setuptools>=40.8.0", "wheel")


def test_pypi_names_are_pep503_normalized() -> None:
    # SG-37: the old tool asked PyPI for underscore names and got 404s.
    assert normalize_name("cjm_graph_plugin_sqlite") == "cjm-graph-plugin-sqlite"
    assert normalize_name("Zope.Interface") == "zope-interface"
    ref = parse_package("cjm_graph_plugin_sqlite[x]==0.0.2", Path("."), WHERE)
    assert ref.pypi_name == "cjm-graph-plugin-sqlite" and ref.version == "0.0.2"


@pytest.mark.parametrize("spec,fragment", [
    ("", "not a usable pip spec"),
    ("foo\nbar", "control character"),
    ("--pre foo", "pip option"),
    ("foo===>1", "not a valid requirement"),
    ("./does-not-exist", "does not exist"),
])
def test_bad_specs(spec: str, fragment: str, tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        parse_package(spec, tmp_path, WHERE)
    assert fragment in str(info.value) and "key 'package'" in str(info.value)
