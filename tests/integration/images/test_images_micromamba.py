"""Real micromamba builds. They need the micromamba base (a registry, or a docker-loaded image)
and skip with the pull error as their reason where there is none."""

from __future__ import annotations

from pathlib import Path

import pytest

from cjm_docker.errors import BaseImageMissingError
from cjm_docker.images.bootstrap import RuntimeSetup
from cjm_docker.manifest import read_manifest
from tests.fixtures.conda_channel import demo_channel

pytestmark = [pytest.mark.integration, pytest.mark.registry, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]


def _micromamba_base(project) -> None:
    try:
        RuntimeSetup(project.config, project.engine).ensure_micromamba()
    except BaseImageMissingError as exc:
        pytest.skip(f"no micromamba base: {exc.message}")


def test_micromamba_build(project, cjm_ctl) -> None:
    _micromamba_base(project)
    (project.root / "environment.yml").write_text(
        "channels: [conda-forge]\ndependencies:\n  - python=3.11\n  - zlib\n  - pip\n")
    plugins = project.write_plugins(
        "plugins:\n  - name: echo-conda\n    env_file: environment.yml\n"
        f"    package: {REPO}/examples/plugins/cjm-example-echo\n")
    result = cjm_ctl("install-all", "--plugins", str(plugins))
    assert result.code == 0, result.text[-4000:]
    manifest = read_manifest(project.manifests / "cjm-example-echo.json")
    assert manifest.python_path == "/opt/conda/envs/plugin/bin/python"
    assert project.engine.image_inspect(manifest.image)["Config"]["Labels"]["io.cjm.flavor"] == "micromamba"


def test_micromamba_build_from_a_local_channel(project, cjm_ctl) -> None:
    """The conda demo plugin (tests/integration/images/test_images_conda.py) on micromamba:
    Python from conda-forge, the demo packages from a local channel, inflection from PyPI."""
    from cjm_docker.host.manager import PluginManager
    from tests.integration.conftest import unloading

    _micromamba_base(project)
    demo_channel(project.root / "channel")
    (project.root / "environment.yml").write_text(
        "channels: [./channel, conda-forge]\n"
        "dependencies:\n  - python=3.11\n  - cjm-shout\n  - cjm-greeting\n"
        "  - pip:\n      - inflection==0.5.1\n")
    plugins = project.write_plugins(
        "plugins:\n  - name: conda-demo-mamba\n    env_file: environment.yml\n"
        f"    flavor: micromamba\n    package: {REPO}/tests/plugins/cjm-conda-demo\n")
    result = cjm_ctl("install-all", "--plugins", str(plugins))
    assert result.code == 0, result.text[-4000:]
    manager = PluginManager(search_paths=[project.manifests], config=project.config,
                            engine=project.engine)
    manager.discover_manifests()
    with unloading(manager, project.engine):
        manager.load_plugin("cjm-conda-demo")
        answer = manager.execute_plugin("cjm-conda-demo", who="tests")
    assert answer == {"shouted": "HELLO FROM A CONDA PACKAGE TO TESTS!",
                      "titled": "Hello From A Conda Package To Tests",
                      "prefix": "/opt/conda/envs/plugin"}
