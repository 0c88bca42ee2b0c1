"""Rendering: golden files for both flavors, determinism, strictness, layer order."""

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


def test_python_flavor_golden() -> None:
    plan = _plan("golden-python")
    assert plan.flavor.value == "python"
    _check_golden("python.Dockerfile", plan.dockerfile)


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
    for name in ("golden-python", "golden-micromamba"):
        first, second = _plan(name), _plan(name)
        assert first.dockerfile == second.dockerfile
        assert first.context_files() == second.context_files()


def test_layers_are_ordered_for_the_cache() -> None:
    text = _plan("golden-python").dockerfile
    # base, system packages, (stable settings), environment, worker runtime, plugin package
    marks = ["FROM cjm-docker/base-python:3.11", "apt-get install", "LABEL io.cjm.flavor",
             "CMD [", "python3 -m venv", "COPY cjm/runtime/", "COPY cjm/plugin/",
             "--no-deps /opt/cjm/plugin"]
    positions = [text.index(m) for m in marks]
    assert positions == sorted(positions), list(zip(marks, positions, strict=True))
    # dependencies come before the plugin's code, so a code change keeps the environment layers
    assert text.index("'httpx>=0.27'") < text.index("COPY cjm/plugin/")
    # nothing after the plugin's install: every further step would rerun on each code change
    assert text.rstrip().endswith("--no-deps /opt/cjm/plugin")
    # the volatile settings come from the final stage, not from the Dockerfile
    instructions = [line for line in text.splitlines() if not line.startswith("#")]
    assert not [line for line in instructions if line.startswith("USER ") or "io.cjm.hash" in line]


def test_proxies_are_build_args_not_image_settings() -> None:
    plan = _plan("golden-python")
    assert ("HTTPS_PROXY", "http://proxy:3128") in plan.transient_args
    assert "proxy:3128" not in plan.dockerfile and "HTTPS_PROXY" not in plan.dockerfile
    assert "ARG PIP_INDEX_URL" in plan.dockerfile
    assert plan.all_build_args()["PIP_INDEX_URL"] == "https://pypi.internal/simple"


def test_certificates_reach_the_trust_store_and_pip() -> None:
    text = _plan("golden-python").dockerfile
    assert "COPY cjm/certs/ /usr/local/share/ca-certificates/cjm/" in text
    assert "update-ca-certificates" in text
    assert 'PIP_CERT="/etc/ssl/certs/ca-certificates.crt"' in text
    assert 'SSL_CERT_FILE="/etc/ssl/certs/ca-certificates.crt"' in text
    mamba = _plan("golden-micromamba").dockerfile
    assert 'MAMBA_SSL_VERIFY="/etc/ssl/certs/ca-certificates.crt"' in mamba
    assert "ca-certificates" in mamba.split("apt-get install", 1)[1].splitlines()[0]


def test_no_certificates_no_trust_store_step() -> None:
    bare = RenderSettings(cjm_version="x", worker_requirements=(), runtime_files=(),
                          templates_dir=templates_dir())
    text = _plan("golden-micromamba", bare).dockerfile
    assert "update-ca-certificates" not in text and "cjm/certs" not in text


def test_strict_undefined(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile.python.j2").write_text("FROM {{ base_image }}\nRUN {{ no_such_variable }}\n")
    settings = RenderSettings(cjm_version="x", worker_requirements=(), runtime_files=(),
                              templates_dir=tmp_path)
    with pytest.raises(jinja2.UndefinedError):
        _plan("golden-python", settings)


def test_context_holds_plugin_and_runtime() -> None:
    paths = [f.path for f in _plan("golden-python").context_files()]
    assert paths[0] == "Dockerfile"
    assert "cjm/plugin/golden_plugin/meta.py" in paths
    assert "cjm/plugin/pyproject.toml" in paths
    assert "cjm/runtime/cjm_docker/__init__.py" in paths
    assert paths[1:] == sorted(paths[1:])
