"""A real micromamba build. Needs the micromamba base (a registry, or a docker-loaded image);
skips with the pull error as its reason where there is none."""

from __future__ import annotations

from pathlib import Path

import pytest

from cjm_docker.errors import BaseImageMissingError
from cjm_docker.images.bootstrap import RuntimeSetup
from cjm_docker.manifest import read_manifest

pytestmark = [pytest.mark.integration, pytest.mark.registry, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]


def test_micromamba_build(project, cjm_ctl) -> None:
    try:
        RuntimeSetup(project.config, project.engine).ensure_micromamba()
    except BaseImageMissingError as exc:
        pytest.skip(f"no micromamba base: {exc.message}")
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
