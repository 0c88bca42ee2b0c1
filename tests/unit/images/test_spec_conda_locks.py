"""Conda lock files as env specs (@EXPLICIT, conda-lock, pixi.lock), and where the build gets
the packages (local channels travel in the context; cjm.yaml's docker.conda_channels maps names)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cjm_docker.errors import SpecError
from cjm_docker.images.conda_sources import conda_sources
from cjm_docker.spec import Flavor, load_plugins_file, parse_environment, resolve_plugins
from cjm_docker.spec.location import Location

WHERE = Location("lock", "demo", via="plugins.yaml")
CF = "https://conda.anaconda.org/conda-forge"
MD5 = "a" * 32
SHA = "b" * 64

EXPLICIT = f"""# platform: linux-64
@EXPLICIT
{CF}/linux-64/python-3.11.7-hab00c5b_0_cpython.conda#{MD5}
{CF}/noarch/tzdata-2024a-h0c530f3_0.conda#sha256:{SHA}
file:///srv/channel/noarch/cjm-shout-1.0-0.tar.bz2
"""

CONDA_LOCK = f"""version: 1
metadata: {{channels: [{{url: conda-forge, used_env_vars: []}}], platforms: [linux-64, osx-arm64]}}
package:
- name: python
  version: 3.11.7
  manager: conda
  platform: linux-64
  url: {CF}/linux-64/python-3.11.7-hab00c5b_0_cpython.conda
  hash: {{md5: {MD5}, sha256: {SHA}}}
  category: main
  optional: false
- name: python
  version: 3.11.7
  manager: conda
  platform: osx-arm64
  url: {CF}/osx-arm64/python-3.11.7-hdf0ec26_0_cpython.conda
  hash: {{md5: {MD5}}}
  category: main
  optional: false
- name: inflection
  version: 0.5.1
  manager: pip
  platform: linux-64
  url: https://files.pythonhosted.org/packages/inflection-0.5.1-py2.py3-none-any.whl
  hash: {{sha256: {SHA}}}
  category: main
  optional: false
"""

PIXI_LOCK = f"""version: 6
environments:
  default:
    channels:
    - url: {CF}/
    packages:
      linux-64:
      - conda: {CF}/linux-64/python-3.11.7-hab00c5b_0_cpython.conda
      - pypi: https://files.pythonhosted.org/packages/inflection-0.5.1-py2.py3-none-any.whl
      osx-arm64:
      - conda: {CF}/osx-arm64/python-3.11.7-hdf0ec26_0_cpython.conda
packages:
- conda: {CF}/linux-64/python-3.11.7-hab00c5b_0_cpython.conda
  sha256: {SHA}
  md5: {MD5}
- conda: {CF}/osx-arm64/python-3.11.7-hdf0ec26_0_cpython.conda
  sha256: {SHA}
- pypi: https://files.pythonhosted.org/packages/inflection-0.5.1-py2.py3-none-any.whl
  name: inflection
  version: 0.5.1
  sha256: {SHA}
"""


def _platform(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("cjm_docker.spec.conda_locks.platform.machine", lambda: "x86_64")


def test_explicit_list(monkeypatch: pytest.MonkeyPatch) -> None:
    env = parse_environment(EXPLICIT, WHERE)
    assert env.lock is not None and env.lock.kind == "explicit" and env.flavor == Flavor.RATTLER
    python, tzdata, shout = env.lock.packages
    assert (python.md5, python.sha256) == (MD5, None)
    assert (tzdata.md5, tzdata.sha256) == (None, SHA)
    assert shout.name_version_build == ("cjm-shout", "1.0", "0") and shout.channel == "file:///srv/channel"
    assert env.python_minor() == "3.11"  # from the locked python package


def test_conda_lock_takes_this_platform_and_pip_pins(monkeypatch: pytest.MonkeyPatch) -> None:
    _platform(monkeypatch)
    env = parse_environment(CONDA_LOCK, WHERE)
    assert env.lock.kind == "conda-lock"
    assert [p.subdir for p in env.lock.packages] == ["linux-64"]
    assert env.lock.packages[0].sha256 == SHA
    assert env.pip_dependencies == (
        f"inflection @ https://files.pythonhosted.org/packages/inflection-0.5.1-py2.py3-none-any.whl#sha256={SHA}",)


def test_pixi_lock_default_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    _platform(monkeypatch)
    env = parse_environment(PIXI_LOCK, WHERE)
    assert env.lock.kind == "pixi.lock"
    (python,) = env.lock.packages
    assert (python.subdir, python.sha256, python.md5) == ("linux-64", SHA, MD5)
    assert env.pip_dependencies[0].startswith("inflection @ https://files.pythonhosted.org/")


@pytest.mark.parametrize(("text", "message"), [
    ("@EXPLICIT\nhttps://example.org/not-a-package.txt\n", "line 2 is not a conda package URL"),
    ("@EXPLICIT\n/srv/channel/noarch/x-1-0.conda\n", "line 2 is not a conda package URL"),
    (CONDA_LOCK.replace("version: 1", "version: 2", 1), "conda-lock version 2 is not supported"),
    (PIXI_LOCK.replace("version: 6", "version: 3", 1), "pixi.lock version 3 is not supported"),
    (PIXI_LOCK.replace("      linux-64:", "      linux-aarch64:"), "no packages for the default environment on linux-64"),
    (CONDA_LOCK.replace("platform: linux-64", "platform: win-64"), "pins nothing for platform linux-64"),
    (PIXI_LOCK.replace("- pypi: https://files", "- pypi: ./local-", 1), "is not a PyPI package URL"),
])
def test_bad_locks_name_the_problem(text: str, message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _platform(monkeypatch)
    with pytest.raises(SpecError, match=message):
        parse_environment(text, WHERE)


def test_lock_with_flavor_python_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "explicit.txt").write_text(EXPLICIT)
    (tmp_path / "plugins.yaml").write_text(
        "plugins:\n  - {name: x, package: x, env_file: explicit.txt, flavor: python}\n")
    with pytest.raises(SpecError, match="a explicit lock"):
        resolve_plugins(load_plugins_file(tmp_path / "plugins.yaml"))


def test_channels_map_through_mirrors_and_local_folders_travel(tmp_path: Path) -> None:
    (tmp_path / "env.yml").write_text(
        "channels: [./chan, conda-forge, https://conda.anaconda.org/bioconda, other]\n"
        "dependencies: [cjm-shout, 'conda-forge::zlib', 'other::thing']\n")
    (tmp_path / "plugins.yaml").write_text("plugins:\n  - {name: x, package: x, env_file: env.yml}\n")
    (spec,) = resolve_plugins(load_plugins_file(tmp_path / "plugins.yaml"))
    mirrors = {"conda-forge": "https://mirror.example/cf/", "bioconda": "file:///srv/bio"}
    sources = conda_sources(spec.environment, mirrors)
    assert sources.channels == ("file:///opt/cjm/conda/channels/00", "https://mirror.example/cf",
                                "file:///opt/cjm/conda/channels/01", "other")
    assert sources.local == ((tmp_path / "chan", "cjm/conda/channels/00"),
                             (Path("/srv/bio"), "cjm/conda/channels/01"))
    assert sources.specs == ("cjm-shout", "https://mirror.example/cf::zlib", "other::thing")


def test_locked_urls_map_the_same_way() -> None:
    env = parse_environment(EXPLICIT, WHERE)
    sources = conda_sources(env, {"conda-forge": "/srv/cf"})
    assert [p.url for p in sources.locked] == [
        "file:///opt/cjm/conda/channels/00/linux-64/python-3.11.7-hab00c5b_0_cpython.conda",
        "file:///opt/cjm/conda/channels/00/noarch/tzdata-2024a-h0c530f3_0.conda",
        "file:///opt/cjm/conda/channels/01/noarch/cjm-shout-1.0-0.tar.bz2"]
    assert sources.local == ((Path("/srv/cf"), "cjm/conda/channels/00"),
                             (Path("/srv/channel"), "cjm/conda/channels/01"))
    assert sources.locked[0].md5 == MD5  # hashes survive the move


def test_cjm_yaml_conda_channels_resolve_relative_folders(tmp_path: Path) -> None:
    from cjm_docker.config import load_config

    (tmp_path / "cjm.yaml").write_text(
        "docker:\n  conda_channels:\n    local: ./chan\n    conda-forge: https://mirror.example/cf\n")
    channels = load_config(tmp_path / "cjm.yaml").docker.conda_channels
    assert channels == {"local": str(tmp_path / "chan"), "conda-forge": "https://mirror.example/cf"}
