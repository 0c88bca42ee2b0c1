"""Integration fixtures: the real engine, real images built once per session through the real
`cjm-ctl`, and every container removed by label afterwards, even when a test fails."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cjm_docker import labels

REPO = Path(__file__).resolve().parents[2]
EXAMPLES_YAML = REPO / "plugins.yaml"
TEST_PLUGINS_YAML = REPO / "tests" / "plugins" / "plugins.yaml"
LEGACY_YAML = REPO / "tests" / "plugins" / "legacy-plugins.yaml"
CJM_CTL = [sys.executable, "-m", "cjm_docker.cli.app"]


def run_ctl(*args: str, data_dir: Path, check: bool = True, timeout: float = 1200,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real `cjm-ctl` in a subprocess against ``data_dir``."""
    env = {**os.environ, "CJM_DATA_DIR": str(data_dir)}
    proc = subprocess.run([*CJM_CTL, *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=cwd or REPO)
    if check and proc.returncode != 0:
        raise AssertionError(f"cjm-ctl {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def engine():
    """The real Docker engine (integration tests fail loudly when it does not answer)."""
    from cjm_docker.engine import Engine

    return Engine()


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    """One data dir for the session's installs (manifests, plugin data, exchange)."""
    return tmp_path_factory.mktemp("cjm-data")


@pytest.fixture(scope="session")
def cjm_config(data_dir):
    from cjm_docker.config import load_config

    return load_config(data_dir=data_dir, models_dir=data_dir / "models")


@pytest.fixture(scope="session")
def base_images(engine, data_dir) -> None:
    """The base images (setup-runtime pulls or bootstraps them; a no-op when present)."""
    run_ctl("setup-runtime", data_dir=data_dir, timeout=1800)


@pytest.fixture(scope="session")
def example_plugins(base_images, data_dir) -> Path:
    """The example plugins of the root plugins.yaml, installed; returns the manifests dir."""
    run_ctl("install-all", "--plugins", str(EXAMPLES_YAML), data_dir=data_dir)
    return data_dir / "manifests"


@pytest.fixture(scope="session")
def legacy_plugin(base_images, data_dir) -> str:
    """cjm-graph-plugin-sqlite from PyPI, installed from a 0.0.x-format plugins.yaml."""
    run_ctl("install-all", "--plugins", str(LEGACY_YAML), data_dir=data_dir)
    return "cjm-graph-plugin-sqlite"


@pytest.fixture(scope="session")
def test_plugins(base_images, data_dir) -> dict[str, dict]:
    """The test workbench image installed, plus manifests for its misbehaving siblings
    (same image, other classes), kept in ``extra-manifests`` so that discovery of the data
    dir sees only real installs."""
    run_ctl("install-all", "--plugins", str(TEST_PLUGINS_YAML), data_dir=data_dir)
    workbench = json.loads((data_dir / "manifests" / "cjm-test-workbench.json").read_text())
    extra = data_dir / "extra-manifests"
    extra.mkdir(exist_ok=True)
    variants = {
        "cjm-test-broken-import": ("cjm_test_plugins.broken", "Broken"),
        "cjm-test-failing-init": ("cjm_test_plugins.plugins", "FailingInit"),
    }
    out = {"cjm-test-workbench": workbench}
    for name, (module, cls) in variants.items():
        manifest = {**workbench, "name": name, "module": module, "class": cls}
        (extra / f"{name}.json").write_text(json.dumps(manifest))
        out[name] = manifest
    return out


@pytest.fixture
def manager(cjm_config, test_plugins, engine) -> Iterator:
    """A PluginManager over the test plugins; unloads everything afterwards."""
    from cjm_docker.host.manager import PluginManager

    mgr = PluginManager(search_paths=[cjm_config.manifests_dir,
                                      cjm_config.data_dir / "extra-manifests"],
                        config=cjm_config, engine=engine)
    mgr.discover_manifests()
    with unloading(mgr, engine):
        yield mgr


@contextlib.contextmanager
def unloading(mgr, engine) -> Iterator:
    """Unload everything afterwards, then remove whatever the session's label still finds."""
    try:
        yield mgr
    finally:
        try:
            mgr.unload_all()
        finally:
            remove_containers(engine, {labels.SESSION: mgr.session})


def remove_containers(engine, selector: dict[str, str]) -> None:
    """Remove every managed container matching ``selector``."""
    for state in engine.list_containers({labels.MANAGED: "true", **selector}):
        engine.remove_container(state.id, force=True)


@pytest.fixture(autouse=True, scope="session")
def _no_leftover_containers(request) -> Iterator[None]:
    """After the session: remove any plugin container this test process still owns."""
    yield
    try:
        from cjm_docker.engine import Engine

        engine = Engine()
    except Exception:
        return
    remove_containers(engine, {labels.OWNER_PID: str(os.getpid())})
