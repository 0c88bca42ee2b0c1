"""The python flavor: the shared runtime image and the plugin's layers on it (pure planning).

Golden files: runtime.Dockerfile (the runtime image), python.Dockerfile (the plugin's layers as a
BuildKit Dockerfile); the lock is tests/golden/python.pylock.toml (no resolution here).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import jinja2
import pytest

from cjm_docker.images.build import local_trees
from cjm_docker.images.context import ContextFile
from cjm_docker.images.layers import plan_layers, render_dockerfile, split_lock
from cjm_docker.images.lock import parse_pylock
from cjm_docker.images.prepare import lock_inputs
from cjm_docker.images.render import RenderSettings
from cjm_docker.images.runtime import templates_dir
from cjm_docker.images.runtime_plan import render_runtime
from cjm_docker.spec import load_plugins_file, resolve_plugins

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
UPDATE = os.environ.get("CJM_UPDATE_GOLDEN") == "1"
BASE_ID = "sha256:" + "b" * 64

SETTINGS = RenderSettings(
    cjm_version="0.0.0-golden",
    worker_requirements=("fastapi==0.110.0", "uvicorn==0.29.0", "psutil==5.9.8"),
    worker_constraints=("anyio==4.3.0", "fastapi==0.110.0", "pydantic==2.6.4",
                        "pydantic-core==2.16.3", "starlette==0.36.3", "typing-extensions==4.10.0"),
    runtime_files=(ContextFile("cjm/runtime/cjm_docker/__init__.py", b"# runtime\n"),),
    ca_certificates=(ContextFile("cjm/certs/00-proxy.crt", b"-----BEGIN CERTIFICATE-----\n"),),
    pip_index_url="https://pypi.internal/simple",
    proxies=(("HTTPS_PROXY", "http://proxy:3128"),),
    templates_dir=templates_dir(),
)
LOCK = parse_pylock((GOLDEN / "python.pylock.toml").read_text())


def _spec(name: str = "golden-python"):
    specs = resolve_plugins(load_plugins_file(GOLDEN / "plugins.yaml"), default_python="3.11")
    return next(s for s in specs if s.name == name)


def _layers(spec=None, lock=LOCK, settings=SETTINGS, trees=None, threshold_mb=4.0):
    spec = spec or _spec()
    runtime = render_runtime(settings, spec.python_version, "cjm-docker/base-python:3.11")
    return plan_layers(spec, lock, runtime, runtime.content_hash(BASE_ID), settings,
                       trees if trees is not None else local_trees(spec),
                       stack_threshold_mb=threshold_mb)


def _check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE or not path.exists():
        path.write_text(text)
    assert text == path.read_text(), f"{name} changed; review and regenerate with CJM_UPDATE_GOLDEN=1"


def test_runtime_golden_and_layer_order() -> None:
    runtime = render_runtime(SETTINGS, "3.11", "cjm-docker/base-python:3.11")
    _check_golden("runtime.Dockerfile", runtime.dockerfile)
    text = runtime.dockerfile
    # base, trust store + user, stable settings, uv + the worker's venv, cjm_docker files last
    marks = ["FROM cjm-docker/base-python:3.11", "update-ca-certificates", "useradd",
             "CMD [", "uv==", "venv --quiet", "-c /opt/cjm/worker/constraints.txt",
             "LABEL io.cjm.managed", "COPY cjm/runtime/"]
    positions = [text.index(m) for m in marks]
    assert positions == sorted(positions), list(zip(marks, positions, strict=True))
    assert text.rstrip().endswith("COPY cjm/runtime/ /opt/cjm/runtime/")
    # nothing plugin-specific: every plugin of this base and Python shares it
    assert "golden" not in text.replace("0.0.0-golden", "")
    assert "io.cjm.plugin" not in text


def test_runtime_files_and_tag() -> None:
    runtime = render_runtime(SETTINGS, "3.11", "cjm-docker/base-python:3.11")
    paths = [f.path for f in runtime.context_files()]
    assert paths[0] == "Dockerfile" and paths[1:] == sorted(paths[1:])
    assert {"cjm/runtime/cjm_docker/__init__.py", "cjm/certs/00-proxy.crt",
            "cjm/worker/requirements.txt", "cjm/worker/constraints.txt"} <= set(paths)
    constraints = next(f for f in runtime.files if f.path == "cjm/worker/constraints.txt")
    assert b"starlette==0.36.3\n" in constraints.data
    tag = runtime.tag("cjm-runtime", BASE_ID)
    assert tag.startswith("cjm-runtime/py3.11:") and len(tag.rsplit(":", 1)[1]) == 16
    assert runtime.tag("cjm-runtime", "sha256:" + "c" * 64) != tag  # a new base, a new runtime


def test_runtime_keeps_proxies_out_and_trusts_the_extra_cas() -> None:
    runtime = render_runtime(SETTINGS, "3.11", "cjm-docker/base-python:3.11")
    assert "proxy:3128" not in runtime.dockerfile and "HTTPS_PROXY" not in runtime.dockerfile
    assert ("HTTPS_PROXY", "http://proxy:3128") in runtime.transient_args
    assert runtime.all_build_args()["PIP_INDEX_URL"] == "https://pypi.internal/simple"
    assert 'SSL_CERT_FILE="/etc/ssl/certs/ca-certificates.crt"' in runtime.dockerfile
    assert "COPY cjm/certs/ /usr/local/share/ca-certificates/cjm/" in runtime.dockerfile
    bare = render_runtime(replace(SETTINGS, ca_certificates=()), "3.11", "b:1")
    assert "update-ca-certificates" not in bare.dockerfile and "SSL_CERT_FILE" not in bare.dockerfile


def test_plugin_layers_golden_and_order() -> None:
    spec = _spec()
    layers = _layers(spec)
    assert [s.kind for s in layers.steps] == ["stack", "system", "deps", "code"]
    text = render_dockerfile(spec, layers, "cjm-runtime/py3.11:0123456789abcdef", SETTINGS,
                             "cjm-package-cache")
    _check_golden("python.Dockerfile", text)
    assert "proxy:3128" not in text


def test_lock_splits_into_stack_private_and_runtime() -> None:
    runtime_names = {c.split("==")[0] for c in SETTINGS.worker_constraints}
    stack, private = split_lock(LOCK, runtime_names, 4 * 1024 * 1024)
    assert [p.pin for p in stack] == ["numpy==1.26.4"]
    names = {p.name for p in private}
    assert {"requests", "httpx", "certifi", "cjm-graph-plugin-system"} <= names
    assert not names & runtime_names  # the runtime holds those already
    vcs = next(p for p in private if p.name == "cjm-graph-plugin-system")
    assert vcs.requirement == ("cjm-graph-plugin-system @ git+https://github.com/cj-mills/"
                               "cjm-graph-plugin-system.git@0123456789abcdef0123456789abcdef01234567")
    layers = _layers()
    assert layers.step("stack").files[0].data == b"numpy==1.26.4\n"
    assert b"numpy" not in layers.step("deps").files[0].data
    # a threshold above every wheel: no stack, everything the plugin's own
    assert [s.kind for s in _layers(threshold_mb=10_000).steps] == ["system", "deps", "code"]


def test_keys_chain_so_a_change_rebuilds_only_what_is_above_it() -> None:
    spec = _spec()
    base = _layers(spec)
    keys = {s.kind: s.key for s in base.steps}
    assert _layers(spec).content_hash == base.content_hash  # deterministic

    trees = local_trees(spec)
    changed_code = {path: (*files, ContextFile("golden_plugin/new.py", b"x = 1\n"))
                    for path, files in trees.items()}
    code = {s.kind: s.key for s in _layers(spec, trees=changed_code).steps}
    assert {k for k in keys if keys[k] != code[k]} == {"code"}

    more = parse_pylock(LOCK.text + '\n[[packages]]\nname = "tabulate"\nversion = "0.9.0"\n')
    deps = {s.kind: s.key for s in _layers(spec, lock=more).steps}
    assert {k for k in keys if keys[k] != deps[k]} == {"deps", "code"}  # the stack stays shared

    new_runtime = replace(SETTINGS, runtime_files=(ContextFile(
        "cjm/runtime/cjm_docker/__init__.py", b"# runtime 2\n"),))
    runtime = {s.kind: s.key for s in _layers(spec, settings=new_runtime).steps}
    assert all(keys[k] != runtime[k] for k in keys)  # the runtime changes every plugin


def test_code_step_builds_local_folders_with_isolation() -> None:
    code = _layers().step("code")
    assert "--no-build-isolation" not in code.script
    assert code.script.count("cp -R /cjm-build/plugin /tmp/cjm-src/plugin") == 1
    assert "--no-deps" in code.script and "rm -rf /tmp/cjm-src" in code.script
    assert "plugin/golden_plugin/meta.py" in [f.path for f in code.files]


def test_lock_inputs_of_a_plugin() -> None:
    inputs = lock_inputs(_spec(), SETTINGS)
    assert inputs.requirements[:3] == SETTINGS.worker_requirements  # the worker's pins first
    assert {"requests>=2.31", "numpy==1.26.4", "httpx>=0.27", "cjm-plugin-system"} <= set(inputs.requirements)
    assert inputs.constraints == SETTINGS.worker_constraints
    assert inputs.python_version == "3.11" and "manylinux_2_36" in inputs.platform
    assert inputs.index_url == "https://pypi.internal/simple"
    assert inputs.key() == lock_inputs(_spec(), SETTINGS).key()


def test_runtime_template_is_strict(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile.runtime.j2").write_text("FROM {{ base_image }}\nRUN {{ no_such_variable }}\n")
    with pytest.raises(jinja2.UndefinedError):
        render_runtime(replace(SETTINGS, templates_dir=tmp_path), "3.11", "b:1")
