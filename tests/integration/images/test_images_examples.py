"""The shipped example plugins: setup-runtime + install-all build them and write manifests;
a second install-all builds nothing and takes about as long as starting cjm-ctl at all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cjm_docker import config as config_module
from cjm_docker import labels
from cjm_docker.engine import ContainerSpec, Engine
from cjm_docker.manifest import read_manifest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
CJM_CTL = str(Path(sys.executable).with_name("cjm-ctl"))
# A no-op install-all is a cjm-ctl start plus reading two specs and asking the engine about
# two images: ~1 s unloaded, where `cjm-ctl schema` (start, print, exit) takes ~0.5 s. At load
# 15 both grow tenfold, so the bound is in starts measured beside it: a build, a pull or an
# introspection container costs several seconds more than NOOP_STARTS starts.
NOOP_LIMIT_S = 2.0
NOOP_STARTS = 4


def _env(root: Path) -> dict[str, str]:
    return os.environ | {"CJM_CONFIG": str(root / "cjm.yaml")}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, image_prefix: str, python_base: str,
              engine: Engine) -> Iterator[Path]:
    """install-all of the repo's plugins.yaml, through the real cjm-ctl, into a fresh data dir."""
    root = tmp_path_factory.mktemp("examples")
    (root / "cjm.yaml").write_text(f"data_dir: ./data\ndocker:\n  image_prefix: {image_prefix}\n")
    started = time.perf_counter()
    run = subprocess.run([CJM_CTL, "install-all", "--plugins", str(REPO / "plugins.yaml")],
                         env=_env(root), capture_output=True, text=True, cwd=root)
    print(f"\ninstall-all of the examples: {time.perf_counter() - started:.1f} s\n{run.stdout[-1500:]}")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    config_module.reset_config()
    yield root


def test_every_example_has_a_manifest_and_an_image(installed: Path, engine: Engine) -> None:
    manifests = {p.stem: read_manifest(p) for p in (installed / "data" / "manifests").glob("*.json")}
    assert set(manifests) == {"cjm-example-echo", "cjm-example-fileinfo"}
    for name, manifest in manifests.items():
        doc = engine.image_inspect(manifest.image)
        assert doc is not None and doc["Id"] == manifest.image_id
        image_labels = doc["Config"]["Labels"]
        assert image_labels[labels.MANAGED] == "true"
        assert image_labels[labels.ROLE] == "plugin"
        assert image_labels[labels.PLUGIN] == manifest.spec_name
        # the install's helper containers name their owner; the image they made names none
        assert not any(image_labels.get(k) for k in (labels.OWNER_PID, labels.OWNER_HOST,
                                                      labels.SESSION))
        assert manifest.image.endswith(":" + image_labels[labels.SPEC_HASH][:16])
        label_manifest = json.loads(image_labels[labels.MANIFEST])
        assert label_manifest["name"] == name and label_manifest["image"] == manifest.image
        env = dict(e.split("=", 1) for e in doc["Config"]["Env"])
        assert env["CJM_PLUGIN_MODULE"] == manifest.module
        assert env["CJM_PLUGIN_CLASS"] == manifest.class_name
        assert doc["Config"]["User"] == "10001:10001"
        assert doc["Config"]["Cmd"] == [manifest.python_path, "-m", "cjm_docker.worker"]
        assert manifest.config_schema and manifest.config_schema["type"] == "object"
        assert manifest.runtime.resources.memory_bytes == 256 * 1024**2
        assert manifest.runtime.network is None
    echo = manifests["cjm-example-echo"]
    assert echo.model_extra and echo.model_extra["history_path"] == str(
        installed / "data" / "data" / "cjm-example-echo" / "history.log")


def _cjm_ctl_start_s(root: Path) -> float:
    """Seconds a cjm-ctl process that does nothing much (``schema``) takes, the best of two."""
    times = []
    for _ in range(2):
        started = time.perf_counter()
        subprocess.run([CJM_CTL, "schema"], env=_env(root), capture_output=True, check=True,
                       cwd=root)
        times.append(time.perf_counter() - started)
    return min(times)


def test_second_install_all_builds_nothing_in_a_few_cjm_ctl_starts(installed: Path,
                                                                   engine: Engine) -> None:
    before = {p.name: p.read_text() for p in (installed / "data" / "manifests").glob("*.json")}
    start_before = _cjm_ctl_start_s(installed)
    started = time.perf_counter()
    run = subprocess.run([CJM_CTL, "install-all", "--plugins", str(REPO / "plugins.yaml")],
                         env=_env(installed), capture_output=True, text=True, cwd=installed)
    elapsed = time.perf_counter() - started
    start = max(start_before, _cjm_ctl_start_s(installed))  # the load around it, either side
    print(f"\nno-op install-all (whole cjm-ctl process): {elapsed:.2f} s; "
          f"a cjm-ctl start: {start:.2f} s")
    assert run.returncode == 0, run.stderr
    assert "0 built, 2 up to date, 0 failed" in run.stdout
    assert "Step 1/" not in run.stdout  # docker build was not called
    assert elapsed <= max(NOOP_LIMIT_S, NOOP_STARTS * start)
    after = {p.name: p.read_text() for p in (installed / "data" / "manifests").glob("*.json")}
    assert after == before


def test_the_system_package_is_in_the_image(installed: Path, engine: Engine) -> None:
    manifest = read_manifest(installed / "data" / "manifests" / "cjm-example-fileinfo.json")
    code, out, err = engine.run_once(ContainerSpec(
        image=manifest.image, name=f"cjm-test-fileinfo-{os.getpid()}",
        command=["file", "--brief", "--mime-type", "-L", "/etc/os-release"],
        labels={labels.MANAGED: "true", labels.ROLE: "test"}))
    assert code == 0, err
    assert out.strip() == "text/plain"


def test_the_worker_runtime_is_this_cjm_docker(installed: Path, engine: Engine) -> None:
    manifest = read_manifest(installed / "data" / "manifests" / "cjm-example-echo.json")
    script = ("import cjm_docker, cjm_docker.wire as w, cjm_docker.worker, cjm_example_echo.plugin as p;"
              "print(cjm_docker.__version__, w.PROTOCOL_VERSION, cjm_docker.__file__);"
              "print(p.EchoPlugin().execute('hi', steps=2)['text'])")
    code, out, err = engine.run_once(ContainerSpec(
        image=manifest.image, name=f"cjm-test-echo-{os.getpid()}",
        command=[manifest.python_path, "-c", script], labels={labels.MANAGED: "true"}))
    from cjm_docker import __version__, wire

    assert code == 0, err
    first, second = out.strip().splitlines()
    assert first == f"{__version__} {wire.PROTOCOL_VERSION} /opt/cjm/runtime/cjm_docker/__init__.py"
    assert second == "hi"


def test_list_and_estimate_size_show_the_built_images(installed: Path) -> None:
    listing = subprocess.run([CJM_CTL, "list", "--plugins", str(REPO / "plugins.yaml")],
                             env=_env(installed) | {"COLUMNS": "200"}, capture_output=True,
                             text=True, cwd=installed)
    assert listing.returncode == 0, listing.stderr
    rows = [line for line in listing.stdout.splitlines() if "cjm-example-" in line]
    assert len(rows) == 2 and all("present" in row for row in rows)
    sizes = subprocess.run([CJM_CTL, "estimate-size", "--plugins", str(REPO / "plugins.yaml")],
                           env=_env(installed) | {"COLUMNS": "200"}, capture_output=True,
                           text=True, cwd=installed)
    assert sizes.returncode == 0, sizes.stderr
    assert sizes.stdout.count("image ") == 2 and "Total:" in sizes.stdout
