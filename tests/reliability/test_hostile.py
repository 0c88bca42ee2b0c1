"""A hostile plugin tries each attack of issue 13 for real against the engine; every test judges
the outcome on the host (the marker unread, the file unchanged, the container gone, the install
refused), not the plugin's own report. docs/security.md maps each item to these tests."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cjm_docker.errors import WorkerCrashedError
from tests.integration.conftest import REPO, run_ctl
from tests.reliability.conftest import WORKBENCH

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

HOSTILE = "cjm-test-hostile"
HOSTILE_YAML = REPO / "tests" / "plugins" / "hostile-plugins.yaml"
SECRET = "host-secret-marker-7f3a"


@pytest.fixture(scope="session")
def hostile(base_images, test_plugins, data_dir) -> dict:
    """The hostile plugin, installed beside the workbench; returns its manifest."""
    run_ctl("install-all", "--plugins", str(HOSTILE_YAML), data_dir=data_dir)
    return json.loads((data_dir / "manifests" / f"{HOSTILE}.json").read_text())


@pytest.fixture
def secret(tmp_path) -> Path:
    """A root-only host file (0600) the plugin must never read, chmod or touch."""
    path = tmp_path / "secret.txt"
    path.write_text(SECRET)
    path.chmod(0o600)
    return path


def _hostile_yaml(tmp_path: Path, name: str, entry: str = HOSTILE) -> Path:
    package = REPO / "tests" / "plugins" / "cjm-hostile-plugin"
    path = tmp_path / f"plugins-{entry}.yaml"
    path.write_text(json.dumps({"plugins": [{
        "name": entry, "python_version": "3.11", "package": str(package),
        "env": {"HOSTILE_NAME": name}}]}))
    return path


# -- 1. a name is never a path -----------------------------------------------------------------


def test_a_dot_dot_name_is_refused_at_install(hostile, tmp_path):
    data = tmp_path / "data"
    proc = run_ctl("install-all", "--plugins", str(_hostile_yaml(tmp_path, "..")),
                   data_dir=data, check=False)
    assert proc.returncode != 0
    assert "name" in proc.stdout + proc.stderr and "'..'" in proc.stdout + proc.stderr
    assert not list((data / "manifests").glob("*.json")) if (data / "manifests").exists() else True
    assert not (data / "data").exists()          # no folder was made from the name


NON_ROOT_HOST = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from cjm_docker.config import load_config
    from cjm_docker.host.manager import PluginManager
    cfg = load_config(data_dir=Path(sys.argv[1]))
    with PluginManager(config=cfg) as mgr:
        mgr.load_plugin("cjm-test-hostile")
        out = {}
        for target in sys.argv[2:]:
            out[target] = {"read": mgr.execute_plugin("cjm-test-hostile", action="read", path=target),
                           "write": mgr.execute_plugin("cjm-test-hostile", action="write",
                                                       path=target)}
        out["uid"] = mgr.execute_plugin("cjm-test-hostile", action="uid")
        print(json.dumps(out))
""")


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A temp folder others may enter (pytest's own is root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="cjm-hostile-", dir="/tmp"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_non_root_host_plugin_reaches_no_other_plugins_files(hostile, open_tmp):
    """Item 1 on a non-root host: containers run as the host's own uid, so only what is not
    mounted keeps the plugin from the data dir. The host runs here as a throwaway uid."""
    if os.getuid() != 0:
        pytest.skip("needs root to run the host as another uid")
    # This interpreter may live under /root; a system one of the same version reads our
    # packages from PYTHONPATH instead.
    python = shutil.which(f"python{sys.version_info.major}.{sys.version_info.minor}",
                          path="/usr/bin:/usr/local/bin")
    if python is None:
        pytest.skip("no system python of this version to run a non-root host with")
    uid, docker_gid = 23456, os.stat("/var/run/docker.sock").st_gid
    tmp_path = open_tmp
    data = tmp_path / "data"
    (data / "manifests").mkdir(parents=True)
    (data / "manifests" / f"{HOSTILE}.json").write_text(json.dumps(hostile))
    victim = {**hostile, "name": "victim"}
    (data / "manifests" / "victim.json").write_text(json.dumps(victim))
    (data / "data" / "victim").mkdir(parents=True)
    (data / "data" / "victim" / "marker.txt").write_text(SECRET)
    (data / "jobs.sqlite3").write_text(SECRET)
    for path in [tmp_path, *tmp_path.rglob("*")]:
        os.chown(path, uid, uid)
    targets = [str(data / "manifests" / "victim.json"), str(data / "data" / "victim" / "marker.txt"),
               str(data / "jobs.sqlite3"), str(data / "manifests" / "new.json")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CJM_")}
    env.update(HOME=str(tmp_path), CJM_RUNTIME_DIR=f"/tmp/cjm-nr-{uid}",
               PYTHONPATH=os.pathsep.join([str(REPO), sysconfig.get_paths()["purelib"],
                                           sysconfig.get_paths()["platlib"]]))
    proc = subprocess.run([python, "-c", NON_ROOT_HOST, str(data), *targets],
                          user=uid, group=uid, extra_groups=[docker_gid], env=env,
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen.pop("uid") == uid                  # the container ran as the host's uid
    for target, outcome in seen.items():
        assert SECRET not in outcome["read"], target
        assert outcome["write"].startswith("denied"), (target, outcome)
    assert json.loads((data / "manifests" / "victim.json").read_text()) == victim
    assert not (data / "manifests" / "new.json").exists()
    shutil.rmtree(f"/tmp/cjm-nr-{uid}", ignore_errors=True)


# -- 2, 3. files in transit ---------------------------------------------------------------------


class SlowBlob:
    """A FileBackedDTO written fresh for each call."""

    def __init__(self, folder: Path, text: str):
        self.folder, self.text = folder, text

    def to_temp_file(self) -> str:
        path = self.folder / f"blob-{time.monotonic_ns()}.txt"
        path.write_text(self.text)
        return str(path)


def test_a_plugin_cannot_see_or_replace_another_plugins_file_in_transit(hostile, manager,
                                                                           cjm_config, tmp_path):
    manager.discover_manifests()
    manager.load_plugin(WORKBENCH)
    manager.load_plugin(HOSTILE)
    other = manager.get_plugin(WORKBENCH).container.exchange_folder()
    # A file on its way to the workbench, held there while the workbench sleeps.
    call = threading.Thread(target=manager.execute_plugin, args=(WORKBENCH,),
                            kwargs={"action": "sleep", "seconds": 3.0,
                                    "blob": SlowBlob(tmp_path, "for the workbench only")})
    call.start()
    try:
        deadline = time.monotonic() + 10
        while not list(other.iterdir()):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        in_transit = next(other.iterdir())
        # The exchange root, inside, holds only the mount point of its own folder.
        listed = manager.execute_plugin(HOSTILE, action="list", path=str(cjm_config.exchange_dir))
        assert other.name not in listed and ".private" not in listed, listed
        assert manager.execute_plugin(HOSTILE, action="list", path=str(other)).startswith("denied")
        tampered = manager.execute_plugin(HOSTILE, action="tamper", path=str(in_transit))
        assert SECRET not in json.dumps(tampered)
        assert all(v.startswith("denied") for v in tampered.values()), tampered
        assert in_transit.read_text() == "for the workbench only"
    finally:
        call.join()
    # Its own file in transit: readable, but neither rewritten, replaced nor joined by a link.
    own = manager.execute_plugin(HOSTILE, action="tamper", path=SlowBlob(tmp_path, "yours"))
    assert own.pop("read") == "yours"
    assert all(v.startswith("denied") for v in own.values()), own


def test_a_planted_symlink_changes_no_host_file(hostile, manager, secret):
    manager.discover_manifests()
    manager.load_plugin(HOSTILE)
    proxy = manager.get_plugin(HOSTILE)
    before = secret.stat()
    places = [proxy.container.exchange_folder(), proxy.container.folder.run,
              proxy.container.mounts.plugin_data]
    for place in places:   # a link wherever it can write, and where the next file will go
        manager.execute_plugin(HOSTILE, action="plant_link", link=str(place / "next"),
                               target=str(secret))
    for _ in range(3):     # files handed over meanwhile
        manager.execute_plugin(HOSTILE, action="read", path=SlowBlob(secret.parent, "x"))
    after = secret.stat()
    assert (stat.S_IMODE(after.st_mode), after.st_uid, after.st_nlink) == (0o600, 0, 1)
    assert after.st_ctime_ns == before.st_ctime_ns and secret.read_text() == SECRET
    assert not (proxy.container.exchange_folder() / "next").exists()


# -- 5. links in the runtime folder --------------------------------------------------------------


def test_planted_log_symlink_is_never_followed(hostile, manager, secret):
    manager.discover_manifests()
    manager.load_plugin(HOSTILE)
    container = manager.get_plugin(HOSTILE).container
    result = manager.execute_plugin(HOSTILE, action="plant_link", link=str(container.folder.log_file),
                                    target=str(secret))
    assert result == "ok" and container.folder.log_file.is_symlink()
    assert SECRET not in manager.get_plugin_logs(HOSTILE, 500)
    assert SECRET not in container.read_log_since(0)
    assert container.log_position() == 0
    with pytest.raises(WorkerCrashedError) as info:
        manager.execute_plugin(HOSTILE, action="exit")
    assert SECRET not in str(info.value)
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600


# -- 7. the lease --------------------------------------------------------------------------------

LEASE_HOST = textwrap.dedent("""
    import json, os, sys, time
    from pathlib import Path
    import psutil
    from cjm_docker.config import load_config
    from cjm_docker.host.manager import PluginManager
    cfg = load_config(data_dir=Path(sys.argv[1]))
    mgr = PluginManager(search_paths=[cfg.manifests_dir], config=cfg)
    name = sys.argv[2]
    mgr.load_plugin(name)
    container = mgr.get_plugin(name).container
    renewer = [p.pid for p in psutil.Process().children() if "lease_renewer" in " ".join(p.cmdline())]
    print(json.dumps({"id": container.id, "lease": str(container.folder.lease_file),
                      "renewer": renewer[0]}), flush=True)
    for line in sys.stdin:
        try:
            print(json.dumps({"ok": mgr.execute_plugin(name, **json.loads(line))}), flush=True)
        except Exception as exc:
            print(json.dumps({"error": str(exc)}), flush=True)
""")
LEASE_S = 3.0


def _lease_host(data_dir: Path, name: str):
    env = {**os.environ, "CJM_LEASE_TIMEOUT": str(LEASE_S)}
    host = subprocess.Popen([sys.executable, "-c", LEASE_HOST, str(data_dir), name], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    return host, json.loads(host.stdout.readline())


def _ask(host, **call):
    host.stdin.write(json.dumps(call) + "\n")
    host.stdin.flush()
    return json.loads(host.stdout.readline())


def test_a_plugin_that_touches_its_lease_dies_with_its_host(hostile, data_dir, engine):
    host, started = _lease_host(data_dir, HOSTILE)
    try:
        answer = _ask(host, action="keep_alive", lease=started["lease"])["ok"]
        assert answer["watchers_stopped"] == "1"             # it did switch its watcher off
        assert answer["renew"].startswith("denied") and answer["replace"].startswith("denied")
        host.send_signal(signal.SIGKILL)
        host.wait()
        killed = time.monotonic()
        while engine.container_state(started["id"]) is not None:
            assert time.monotonic() - killed < LEASE_S + 15, "the plugin outlived its host"
            time.sleep(0.2)
    finally:
        host.kill()


def test_a_stalled_host_keeps_its_plugins(test_plugins, data_dir, engine):
    host, started = _lease_host(data_dir, WORKBENCH)
    try:
        host.send_signal(signal.SIGSTOP)   # suspended for three lease timeouts
        time.sleep(3 * LEASE_S)
        host.send_signal(signal.SIGCONT)
        assert engine.container_state(started["id"]).running
        assert _ask(host, action="echo", text="still here")["ok"]["text"].endswith("still here")
    finally:
        host.kill()


def test_an_expired_lease_says_so(test_plugins, data_dir, engine):
    host, started = _lease_host(data_dir, WORKBENCH)
    try:
        os.kill(started["renewer"], signal.SIGKILL)   # what a lost renewer looks like
        deadline = time.monotonic() + LEASE_S + 15
        while engine.container_state(started["id"]) is not None:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        error = _ask(host, action="echo")["error"]
        assert "lease expired" in error, error
    finally:
        host.kill()


# -- 8. an impostor install ----------------------------------------------------------------------


def test_an_impostor_install_is_refused_unless_replace(hostile, test_plugins, tmp_path, engine):
    data = tmp_path / "data"
    (data / "manifests").mkdir(parents=True)
    installed = data / "manifests" / f"{WORKBENCH}.json"
    installed.write_text(json.dumps(test_plugins[WORKBENCH]))
    impostor = _hostile_yaml(tmp_path, WORKBENCH, entry="cjm-test-impostor")
    proc = run_ctl("install-all", "--plugins", str(impostor), "--force", data_dir=data,
                   check=False)
    assert proc.returncode != 0
    assert "--replace" in proc.stdout + proc.stderr and WORKBENCH in proc.stdout + proc.stderr
    assert json.loads(installed.read_text()) == test_plugins[WORKBENCH]
    run_ctl("install-all", "--plugins", str(impostor), "--replace", data_dir=data)
    replaced = json.loads(installed.read_text())
    assert replaced["module"] == "cjm_hostile_plugin.plugin"
    engine.remove_image(replaced["image"], force=True)


# -- 14. the runtime folder's size ---------------------------------------------------------------


def test_a_plugin_cannot_fill_its_runtime_folder(hostile, manager):
    manager.discover_manifests()
    manager.load_plugin(HOSTILE)
    folder = manager.get_plugin(HOSTILE).container.folder
    with pytest.raises(WorkerCrashedError, match="runtime folder") as info:
        manager.execute_plugin(HOSTILE, action="fill", path=str(folder.run / "big.bin"), mb=300)
    print(info.value)
    assert not folder.path.exists()   # and what it wrote went with the container
