"""Environment specs: parsing, and the flavor they select."""

from __future__ import annotations

import pytest
import yaml

from cjm_docker.errors import SpecError
from cjm_docker.spec import Flavor, parse_environment
from cjm_docker.spec.location import Location

WHERE = Location("environment.yml", "demo", via="plugins.yaml")


def test_pip_only_spec_selects_the_python_flavor() -> None:
    env = parse_environment("""
name: x
channels: [conda-forge]
dependencies:
  - python=3.11
  - pip
  - pip: [numpy==1.26.4, "requests>=2"]
""", WHERE)
    assert env.flavor == Flavor.PYTHON
    assert env.pip_dependencies == ("numpy==1.26.4", "requests>=2")
    assert env.python_minor() == "3.11"


def test_conda_dependencies_select_rattler() -> None:
    env = parse_environment("dependencies: [python=3.12, ffmpeg, 'conda-forge::libsndfile']\n", WHERE)
    assert env.flavor == Flavor.RATTLER  # needs no image from a registry
    assert env.conda_dependencies == ("ffmpeg", "conda-forge::libsndfile")


def test_conda_file_is_stable_and_complete() -> None:
    env = parse_environment("channels: [conda-forge]\ndependencies: [ffmpeg, {pip: [x]}]\n", WHERE)
    text = env.conda_file("3.11")
    assert text == env.conda_file("3.11")
    doc = yaml.safe_load(text)
    assert doc["dependencies"] == ["python=3.11", "pip", "ffmpeg"]  # pip part goes through pip
    assert "name" not in doc


@pytest.mark.parametrize("spec,minor", [("python=3.11", "3.11"), ("python==3.12.*", "3.12"),
                                        ("python 3.10.4", "3.10"), ("python>=3.10", None),
                                        ("python", None)])
def test_python_constraints(spec: str, minor: str | None) -> None:
    env = parse_environment(f"dependencies: ['{spec}']\n", WHERE)
    assert env.python_minor() == minor
    assert env.flavor == Flavor.PYTHON


@pytest.mark.parametrize("text,fragment", [
    ("dependencies: [a\n", "not valid YAML"),
    ("- python\n", "must be a mapping"),
    ("dependencies: python\n", "key 'dependencies': must be a list"),
    ("depends: [x]\n", "unknown key(s) 'depends'"),
    ("dependencies: [{pip: numpy}]\n", "key 'dependencies.pip': must be a list"),
    ("dependencies: [{npm: [x]}]\n", "only 'pip'"),
    ("channels: conda-forge\ndependencies: []\n", "key 'channels'"),
])
def test_bad_specs_name_the_file_and_key(text: str, fragment: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_environment(text, WHERE)
    assert "environment.yml (env_file of plugin 'demo' in plugins.yaml)" in str(info.value)
    assert fragment in str(info.value)
