"""Failures that need a real build: each gives a clear message and a non-zero exit, and leaves
nothing behind (no image tag, no container, no manifest)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def _local_package(root: Path, name: str, files: dict[str, str]) -> str:
    folder = root / name
    (folder / name.replace("-", "_")).mkdir(parents=True)
    (folder / "pyproject.toml").write_text(
        f'[build-system]\nrequires = ["hatchling>=1.21"]\nbuild-backend = "hatchling.build"\n'
        f'[project]\nname = "{name}"\nversion = "0.1.0"\ndependencies = []\n'
        f'[tool.hatch.build.targets.wheel]\npackages = ["{name.replace("-", "_")}"]\n')
    (folder / name.replace("-", "_") / "__init__.py").write_text("")
    for rel, text in files.items():
        (folder / name.replace("-", "_") / rel).write_text(text)
    return f"./{name}"


def _assert_nothing_left(project, plugin: str) -> None:
    assert project.tags(plugin) == []
    # this plugin's only: other sessions may be introspecting theirs on the shared engine
    assert [c for c in project.introspection_containers() if f"-{plugin}-" in c] == []
    assert project.manifest_files() == []


def test_a_failing_pip_install(project, cjm_ctl) -> None:
    plugins = project.write_plugins(
        "plugins:\n  - name: broken-pip\n    python_version: '3.11'\n"
        "    package: cjm-docker-no-such-package-4711\n")
    result = cjm_ctl("install-all", "--plugins", str(plugins))
    assert result.code == 1
    message = result.err
    assert "cannot be resolved" in message and "plugin 'broken-pip'" in message
    assert "Failing step: resolve" in message and "cjm-docker-no-such-package-4711" in message
    assert "--- build log (tail) ---" in message
    assert "cjm-docker-no-such-package-4711 was not found in the package registry" in message
    assert "0 built, 0 up to date, 1 failed" in result.out
    _assert_nothing_left(project, "broken-pip")


@pytest.mark.parametrize("files,fragments", [
    ({}, ["No module named 'no_meta_plugin.meta'", "exited with code 1"]),
    ({"meta.py": "def get_plugin_metadata():\n    return {'name': 'x', 'module': 'no_meta_plugin.meta'}\n"},
     ["names no 'class'"]),
    ({"meta.py": "def get_plugin_metadata():\n    raise RuntimeError('meta exploded')\n"},
     ["RuntimeError: meta exploded"]),
    ({"meta.py": "def get_plugin_metadata():\n    return {'module': 'no_meta_plugin.meta', 'class': 'get_plugin_metadata'}\n"},
     ["described itself incompletely", "name: Field required"]),
], ids=["no-meta", "no-class", "meta-raises", "no-name"])
def test_an_introspection_failure(project, cjm_ctl, files, fragments) -> None:
    package = _local_package(project.root, "no-meta-plugin", files)
    plugins = project.write_plugins(
        f"plugins:\n  - name: no-meta\n    python_version: '3.11'\n    package: {package}\n")
    result = cjm_ctl("install-all", "--plugins", str(plugins))
    assert result.code == 1
    assert "no-meta" in result.err
    for fragment in fragments:
        assert fragment in result.err, result.err[-3000:]
    _assert_nothing_left(project, "no-meta")


def test_a_missing_base_image(project, cjm_ctl) -> None:
    plugins = project.write_plugins(
        "plugins:\n  - name: no-base\n    base_image: cjm-test-absent/base:none\n"
        "    package: anything\n")
    result = cjm_ctl("install-all", "--plugins", str(plugins))
    assert result.code == 1
    assert "The base image cjm-test-absent/base:none of plugin 'no-base'" in result.err
    assert "is not present" in result.err
    _assert_nothing_left(project, "no-base")


def test_one_failure_does_not_stop_the_others(project, cjm_ctl) -> None:
    repo = Path(__file__).resolve().parents[3]
    plugins = project.write_plugins(
        f"plugins:\n  - name: no-base\n    base_image: cjm-test-absent/base:none\n"
        f"    package: anything\n  - name: echo\n    python_version: '3.11'\n"
        f"    package: {repo}/examples/plugins/cjm-example-echo\n")
    result = cjm_ctl("install-all", "--plugins", str(plugins))
    assert result.code == 1
    assert "1 built, 0 up to date, 1 failed" in result.out
    assert project.manifest_files() == ["cjm-example-echo.json"]
    assert project.tags("no-base") == []
