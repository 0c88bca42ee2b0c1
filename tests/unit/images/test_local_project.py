"""A local plugin folder's name, static dependencies and meta module, for every packaging style
(the fixtures of tests/plugins/packaging/, built for real by the integration tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cjm_docker.errors import SpecError
from cjm_docker.spec.local_project import DEFAULT_BUILD_REQUIRES, read_local_project
from cjm_docker.spec.location import Location
from cjm_docker.spec.sources import parse_package

PACKAGING = Path(__file__).resolve().parents[2] / "plugins" / "packaging"
STATIC = {"setuptools-pyproject", "src-layout", "hatchling", "flit-core", "pdm-backend"}
WHERE = Location("plugins.yaml")


@pytest.mark.parametrize("style", sorted(p.name for p in PACKAGING.iterdir() if p.is_dir()))
def test_every_style_is_read(style: str) -> None:
    ref = parse_package(f"./{style}", PACKAGING, WHERE)
    assert ref.project is not None
    assert ref.dist_name == f"cjm-pkg-{style}"
    assert ref.import_name == "cjm_pkg_" + style.replace("-", "_")
    if style in STATIC:
        assert ref.project.dependencies == ("six",)
    else:  # the backend's own format: the build installs them with the package
        assert ref.project.dependencies is None
    if style == "setup-py":
        assert ref.project.build_requires == DEFAULT_BUILD_REQUIRES


def test_a_computed_setup_py_name_is_left_to_the_build(tmp_path: Path) -> None:
    (tmp_path / "setup.py").write_text("import setuptools\nsetuptools.setup(name=NAME)\n")
    assert read_local_project(tmp_path, WHERE).name is None


def test_a_folder_pip_cannot_build_is_refused(tmp_path: Path) -> None:
    (tmp_path / "settings.ini").write_text("[DEFAULT]\nlib_name = x\n")
    with pytest.raises(SpecError, match="no pyproject.toml, setup.py or setup.cfg"):
        read_local_project(tmp_path, WHERE)


def test_a_broken_pyproject_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project\n")
    with pytest.raises(SpecError, match="cannot read .*pyproject.toml"):
        read_local_project(tmp_path, WHERE)
