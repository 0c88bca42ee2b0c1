"""Rendering of the micromamba flavor (one Dockerfile): golden files, determinism, strictness.

The python flavor (shared runtime + layers) is tested in test_images_layers.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jinja2
import pytest

from cjm_docker.images.build import local_trees
from cjm_docker.images.context import ContextFile
from cjm_docker.images.render import RenderSettings, render_plan
from cjm_docker.images.runtime import templates_dir
from cjm_docker.spec import load_plugins_file, resolve_plugins

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
UPDATE = os.environ.get("CJM_UPDATE_GOLDEN") == "1"

SETTINGS = RenderSettings(
    cjm_version="0.0.0-golden",
    worker_requirements=("fastapi==0.110.0", "uvicorn==0.29.0", "psutil==5.9.8"),
    runtime_files=(ContextFile("cjm/runtime/cjm_docker/__init__.py", b"# runtime\n"),),
    ca_certificates=(ContextFile("cjm/certs/00-proxy.crt", b"-----BEGIN CERTIFICATE-----\n"),),
    pip_index_url="https://pypi.internal/simple",
    proxies=(("HTTPS_PROXY", "http://proxy:3128"),),
    templates_dir=templates_dir(),
    conda_channels=(("conda-forge", "https://mirror.example/conda-forge"),),
    conda_installer=b"# the rattler installer\n",
)


def _specs():
    return {s.name: s for s in resolve_plugins(load_plugins_file(GOLDEN / "plugins.yaml"),
                                               default_python="3.11")}


def _plan(name: str, settings: RenderSettings = SETTINGS):
    spec = _specs()[name]
    return render_plan(spec, settings, local_trees(spec, settings.conda_channels))


def _check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE or not path.exists():
        path.write_text(text)
    assert text == path.read_text(), f"{name} changed; review and regenerate with CJM_UPDATE_GOLDEN=1"


def test_micromamba_flavor_golden() -> None:
    plan = _plan("golden-micromamba")
    assert plan.flavor.value == "micromamba"
    _check_golden("micromamba.Dockerfile", plan.dockerfile)
    env = next(f for f in plan.files if f.path == "cjm/conda/environment.yml")
    _check_golden("micromamba.environment.yml", env.data.decode())


def test_rattler_flavor_golden() -> None:
    plan = _plan("golden-rattler")
    assert plan.flavor.value == "rattler" and plan.base_image == "cjm-docker/base-python:3.11"
    assert plan.python_path == "/opt/venv/bin/python"
    _check_golden("rattler.Dockerfile", plan.dockerfile)
    files = {f.path: f.data for f in plan.files}
    _check_golden("rattler.request.json", files["cjm/conda/request.json"].decode())
    request = json.loads(files["cjm/conda/request.json"])
    # the local channel travels in the context; conda-forge goes through the configured mirror
    assert request["channels"] == ["file:///opt/cjm/conda/channels/00",
                                   "https://mirror.example/conda-forge"]
    assert request["specs"] == ["cjm-greeting>=1", "https://mirror.example/conda-forge::zlib"]
    assert "cjm/conda/channels/00/noarch/repodata.json" in files
    assert files["cjm/conda/install.py"] == b"# the rattler installer\n"
    assert "install " in plan.dockerfile and " inflection==0.5.1" in plan.dockerfile  # pip's part


def test_rendering_is_byte_stable() -> None:
    for name in ("golden-micromamba",):
        first, second = _plan(name), _plan(name)
        assert first.dockerfile == second.dockerfile
        assert first.context_files() == second.context_files()


def test_certificates_reach_the_trust_store_and_conda() -> None:
    mamba = _plan("golden-micromamba").dockerfile
    assert "COPY cjm/certs/ /usr/local/share/ca-certificates/cjm/" in mamba
    assert 'MAMBA_SSL_VERIFY="/etc/ssl/certs/ca-certificates.crt"' in mamba
    assert "ca-certificates" in mamba.split("apt-get install", 1)[1].splitlines()[0]


def test_no_certificates_no_trust_store_step() -> None:
    bare = RenderSettings(cjm_version="x", worker_requirements=(), runtime_files=(),
                          templates_dir=templates_dir())
    text = _plan("golden-micromamba", bare).dockerfile
    assert "update-ca-certificates" not in text and "cjm/certs" not in text


def test_strict_undefined(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile.micromamba.j2").write_text("FROM {{ base_image }}\nRUN {{ no_such_variable }}\n")
    settings = RenderSettings(cjm_version="x", worker_requirements=(), runtime_files=(),
                              templates_dir=tmp_path)
    with pytest.raises(jinja2.UndefinedError):
        _plan("golden-micromamba", settings)
