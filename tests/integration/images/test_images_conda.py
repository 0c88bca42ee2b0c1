"""Conda dependencies build here, with no registry and no reachable conda channel.

The tests make a tiny local channel (a noarch python package and a data package, indexed with
py-rattler) and build the conda demo plugin on the rattler flavor (the bootstrapped Python base;
py-rattler links the packages into the venv during the build). Its execute returns something
computed from the conda packages (the data file and the module) and from a pip package, so a
result proves all three are in the image.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import ipaddress
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cjm_docker.host.manager import PluginManager
from cjm_docker.manifest import read_manifest
from tests.fixtures.conda_channel import demo_channel
from tests.integration.conftest import unloading

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]
DEMO = REPO / "tests" / "plugins" / "cjm-conda-demo"
WANT = {"shouted": "HELLO FROM A CONDA PACKAGE TO TESTS!",
        "titled": "Hello From A Conda Package To Tests", "prefix": "/opt/venv"}


def _run_demo(project) -> dict:
    manager = PluginManager(search_paths=[project.manifests], config=project.config,
                            engine=project.engine)
    manager.discover_manifests()
    with unloading(manager, project.engine):
        manager.load_plugin("cjm-conda-demo")
        return manager.execute_plugin("cjm-conda-demo", who="tests")


def _report(capsys, result) -> None:
    with capsys.disabled():
        print("\n" + next(line for line in result.text.splitlines() if line.startswith("built ")))


def test_environment_yml_with_a_local_channel_and_pip(project, cjm_ctl, capsys) -> None:
    demo_channel(project.root / "channel")
    shutil.copytree(DEMO, project.root / "demo")
    (project.root / "environment.yml").write_text(
        "channels: [./channel]\n"
        "dependencies:\n  - python=3.11\n  - cjm-shout\n  - cjm-greeting >=1.0\n"
        "  - pip:\n      - inflection==0.5.1\n")
    plugins = project.write_plugins(
        "plugins:\n  - name: conda-demo\n    env_file: environment.yml\n    package: ./demo\n")
    result = cjm_ctl("install-all", "--plugins", str(plugins))
    assert result.code == 0, result.text[-4000:]
    _report(capsys, result)
    manifest = read_manifest(project.manifests / "cjm-conda-demo.json")
    assert manifest.python_path == "/opt/venv/bin/python"
    labels = project.engine.image_inspect(manifest.image)["Config"]["Labels"]
    assert labels["io.cjm.flavor"] == "rattler"
    assert _run_demo(project) == WANT

    # the channel's files are in the content hash: unchanged, nothing is rebuilt
    again = cjm_ctl("install-all", "--plugins", str(plugins))
    assert again.code == 0 and "1 up to date" in again.text, again.text[-2000:]


@pytest.fixture
def http_mirror(project) -> Iterator[tuple[str, Path]]:
    """The demo channel served over HTTP on the default bridge's gateway address, which build
    containers reach: a stand-in for a conda mirror (nothing else is served, nothing leaves the
    machine)."""
    channel = demo_channel(project.root / "mirror")
    ipam = project.engine.api.inspect_network("bridge")["IPAM"]["Config"][0]
    # the engine names the gateway, or leaves it implicit: the subnet's first address
    gateway = ipam.get("Gateway") or str(next(ipaddress.ip_network(ipam["Subnet"]).hosts()))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(channel))
    try:
        server = http.server.ThreadingHTTPServer((gateway, 0), handler)
    except OSError as exc:
        pytest.skip(f"cannot serve on the bridge gateway {gateway}: {exc}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{gateway}:{server.server_address[1]}", channel
    finally:
        server.shutdown()
        server.server_close()


def test_explicit_lock_through_a_configured_mirror(project, cjm_ctl, capsys, http_mirror) -> None:
    """An @EXPLICIT lock naming an anaconda.org channel that cannot be reached; cjm.yaml's
    docker.conda_channels points that name at a mirror URL, and the build gets the exact locked
    files from it (their sha256 checked)."""
    mirror, channel = http_mirror
    shutil.copytree(DEMO, project.root / "demo")
    with (project.root / "cjm.yaml").open("a") as fh:
        fh.write(f"  conda_channels:\n    cjm-test: {mirror}\n")
    packages = sorted((channel / "noarch").glob("*.tar.bz2"))
    (project.root / "explicit.txt").write_text(
        "# platform: linux-64\n@EXPLICIT\n" + "".join(
            f"https://conda.anaconda.org/cjm-test/noarch/{p.name}"
            f"#sha256:{hashlib.sha256(p.read_bytes()).hexdigest()}\n" for p in packages))
    plugins = project.write_plugins(
        "plugins:\n  - name: conda-locked\n    env_file: explicit.txt\n"
        "    interface_libs: [inflection==0.5.1]\n    package: ./demo\n")
    result = cjm_ctl("install-all", "--plugins", str(plugins))
    assert result.code == 0, result.text[-4000:]
    _report(capsys, result)
    assert _run_demo(project) == WANT


def test_an_unindexed_local_channel_is_a_clear_error(project, cjm_ctl) -> None:
    (project.root / "empty-channel").mkdir()
    (project.root / "environment.yml").write_text(
        "channels: [./empty-channel]\ndependencies: [cjm-shout]\n")
    plugins = project.write_plugins(
        "plugins:\n  - name: conda-bad\n    env_file: environment.yml\n"
        f"    package: {DEMO}\n")
    result = cjm_ctl("install-all", "--plugins", str(plugins))
    assert result.code != 0
    text = " ".join(result.text.split())
    assert "empty-channel is not an indexed conda channel" in text and "rattler-index" in text
    assert project.tags("conda-bad") == [] and project.manifest_files() == []
    assert not os.listdir(project.root / "empty-channel")
