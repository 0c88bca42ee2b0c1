"""Attach mode against real worker processes on TCP (no Docker): PluginManager drives workers
it did not start, spreads calls over replicas, and loses one mid-run without a retriable
failure; plus attachment descriptions and replica sources."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from cjm_docker.config import load_config
from cjm_docker.deploy.attach import Attachment, attachments_from_bundle
from cjm_docker.deploy.bundle import write_bundle
from cjm_docker.deploy.compose import ComposeOptions
from cjm_docker.deploy.endpoints import SwarmServiceSource, UrlSource
from cjm_docker.engine import ServiceTask
from cjm_docker.errors import (
    ConfigError,
    PluginStartError,
    ProtocolError,
    WorkerCrashedError,
)
from cjm_docker.host import manager as manager_module
from cjm_docker.host.manager import PluginManager
from cjm_docker.manifest import Manifest
from tests.fixtures.worker_harness import PLUGINS, TOKEN, WorkerProcess, running_worker


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_manifest(folder: Path, name: str, class_name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps({
        "name": name, "module": PLUGINS, "class": class_name, "image": "none:0",
        "config_schema": {"type": "object", "properties": {"greeting": {"type": "string"}}}}))


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[WorkerProcess]]:
    """Two replicas of SlowPlugin, each a worker process on its own TCP port."""
    with ExitStack() as stack:
        found = []
        for i in range(2):
            folder = tmp_path / f"replica{i}"
            folder.mkdir()
            found.append(stack.enter_context(running_worker(folder, "SlowPlugin",
                                                            port=free_port())))
        for worker in found:
            worker.wait_for_health()
        yield found


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[PluginManager]:
    config = load_config(data_dir=tmp_path / "data")
    write_manifest(tmp_path / "manifests", "slow", "SlowPlugin")
    mgr = PluginManager(search_paths=[tmp_path / "manifests"], config=config)
    try:
        yield mgr
    finally:
        mgr.unload_all()


def pid_of(worker: WorkerProcess) -> int:
    assert worker.process is not None
    return worker.process.pid


def test_manager_attaches_and_spreads_calls_over_replicas(manager, workers) -> None:
    manager.attach(Attachment.url("slow", *(w.base_url for w in workers), token=TOKEN))
    manager.load_plugin("slow", {"greeting": "hi"})
    for _ in range(4):
        assert manager.execute_plugin("slow", seconds=0.01, steps=1) == {"steps": 1}
    proxy = manager.get_plugin("slow")
    assert [s["calls"] for s in proxy.client.stats()] == [3, 3]  # /initialize + 2 executes
    # Each replica is its own process: stats reach both, in turn.
    pids = {manager.get_plugin_stats("slow")["pid"] for _ in range(2)}
    assert pids == {pid_of(w) for w in workers}
    assert proxy.get_current_config() == {"greeting": "hi"}
    assert proxy.is_alive()


def test_async_execute_and_progress_in_attach_mode(manager, workers) -> None:
    manager.attach(Attachment.url("slow", *(w.base_url for w in workers), token=TOKEN))
    manager.load_plugin("slow")

    async def scenario() -> tuple[Any, Any]:
        import asyncio

        job = asyncio.create_task(manager.execute_plugin_async("slow", seconds=3, steps=30))
        proxy = manager.get_plugin("slow")
        deadline = time.monotonic() + 60
        while not (progress := await proxy.get_progress_async())["busy"] \
                or progress["progress"] <= 0:  # until the call runs and reported a step
            assert time.monotonic() < deadline and not job.done()
            await asyncio.sleep(0.02)
        return await job, progress

    import asyncio

    result, progress = asyncio.run(scenario())
    assert result == {"steps": 30}
    assert progress["busy"] is True and 0 < progress["progress"] < 1


def test_one_replica_killed_mid_run_fails_only_the_call_it_was_running(manager, workers) -> None:
    manager.attach(Attachment.url("slow", *(w.base_url for w in workers), token=TOKEN,
                                  quarantine=0.5))
    manager.load_plugin("slow")
    client = manager.get_plugin("slow").client
    outcomes: list[tuple[float, str]] = []
    killed_at: list[float] = []
    stop = time.monotonic() + 4.0

    def caller() -> None:
        while time.monotonic() < stop:
            started = time.monotonic()
            try:
                manager.execute_plugin("slow", seconds=0.3, steps=3)
                outcomes.append((started, "ok"))
            except WorkerCrashedError as exc:
                outcomes.append((started, f"crashed: {exc}"))
            except Exception as exc:  # anything else is a failure of the retry policy
                outcomes.append((started, f"{type(exc).__name__}: {exc}"))

    threads = [threading.Thread(target=caller) for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    victim = workers[0]
    victim.kill()                       # returns once the process is dead
    killed_at.append(time.monotonic())  # calls started before this may have been on it
    for thread in threads:
        thread.join()
    failures = [(t, what) for t, what in outcomes if what != "ok"]
    assert len(failures) <= len(threads)  # at most the calls running on it when it died
    assert all(what.startswith("crashed: ") and victim.base_url in what and
               "not retried" in what for _, what in failures), failures
    assert all(t < killed_at[0] for t, _ in failures)  # only calls already running on it
    after = [what for t, what in outcomes if t > killed_at[0]]
    assert len(after) >= 3 and set(after) == {"ok"}
    assert client.retries >= 1  # calls sent to the dead replica went to the other one
    assert manager.get_plugin("slow") is not None  # the plugin stays loaded


def test_wrong_token_and_nothing_listening_fail_the_load_clearly(manager, workers) -> None:
    manager.attach(Attachment.url("slow", workers[0].base_url, token="wrong"))
    with pytest.raises(ProtocolError, match="refused our token"):
        manager.load_plugin("slow")
    manager.attach(Attachment.url("slow", f"http://127.0.0.1:{free_port()}", token=TOKEN,
                                  ready_timeout=0.5))
    with pytest.raises(PluginStartError, match="Cannot attach to plugin 'slow'.*not ready"):
        manager.load_plugin("slow")
    assert manager.get_plugin("slow") is None


def test_unload_releases_the_workers_without_stopping_them(manager, workers) -> None:
    manager.attach(Attachment.url("slow", workers[0].base_url, token=TOKEN))
    manager.load_plugin("slow")
    assert manager.unload_plugin("slow")
    health = workers[0].wait_for_health()
    assert health["status"] == "ready"
    manager.load_plugin("slow")  # attach again: the worker is still there
    assert manager.execute_plugin("slow", seconds=0, steps=1) == {"steps": 1}


def test_attach_deployment_reads_a_bundle(tmp_path: Path, workers, monkeypatch) -> None:
    m = Manifest.model_validate({"name": "slow", "module": PLUGINS, "class": "SlowPlugin",
                                 "image": "none:0"})
    options = ComposeOptions(data_root=tmp_path / "d", exchange_dir=tmp_path / "x",
                             ports={"slow": workers[0].port or 0})
    bundle = write_bundle([m], tmp_path / "compose", options)
    (tmp_path / "compose" / "secrets" / "slow.token").chmod(0o600)
    (tmp_path / "compose" / "secrets" / "slow.token").write_text(TOKEN)
    manager = PluginManager(search_paths=[], config=load_config(data_dir=tmp_path / "data"))
    try:
        assert manager.attach_deployment(tmp_path / "compose") == ["slow"]
        assert manager.search_paths[0] == bundle.manifests_dir
        # the manifest stays typed from discovery to the worker: nothing parses the dict back
        monkeypatch.setattr(manager_module, "parse_manifest",
                            lambda *a, **k: pytest.fail("manifest parsed again"))
        manager.load_plugin("slow")
        assert manager.get_plugin("slow").manifest is manager.get_discovered_meta("slow").model
        assert manager.execute_plugin("slow", seconds=0, steps=1) == {"steps": 1}
        proxy = manager.get_plugin("slow")
        assert proxy.container.visible_roots() == [tmp_path / "d" / "slow", tmp_path / "x"]
    finally:
        manager.unload_all()


# -- descriptions ------------------------------------------------------------------------------

def test_attachment_needs_one_place_and_one_token(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="URLs or a Swarm service"):
        Attachment("p", token="t")
    with pytest.raises(ConfigError, match="URLs or a Swarm service"):
        Attachment("p", urls=("http://a:1",), swarm_service="s", token="t")
    with pytest.raises(ConfigError, match="token or a token file"):
        Attachment.url("p", "http://a:1")
    with pytest.raises(ConfigError, match="Cannot read the token file"):
        Attachment.url("p", "http://a:1", token_file=tmp_path / "none").read_token()
    (tmp_path / "t").write_text("  secret\n")
    assert Attachment.url("p", "http://a:1", token_file=tmp_path / "t").read_token() == "secret"
    with pytest.raises(ConfigError, match="not a worker URL"):
        UrlSource(["tcp://a:1"])


def test_attachments_from_bundle_for_compose_and_for_a_stack(tmp_path: Path) -> None:
    m = Manifest.model_validate({"name": "echo", "module": "m", "class": "C", "image": "i:1"})
    bundle = write_bundle([m], tmp_path / "c", ComposeOptions(project="proj",
                                                               data_root=tmp_path / "d",
                                                               exchange_dir=tmp_path / "x"))
    (compose,) = attachments_from_bundle(bundle)
    assert compose.urls == ("http://127.0.0.1:18100",) and compose.compose_project == "proj"
    assert compose.token_file == bundle.plugins["echo"].token_file
    (swarm,) = attachments_from_bundle(tmp_path / "c", stack="prod", quarantine=1.0)
    assert swarm.swarm_service == "prod_echo" and swarm.quarantine == 1.0
    assert attachments_from_bundle(bundle, plugins=["other"]) == []


def test_tasks_names_expand_to_one_replica_per_address() -> None:
    source = UrlSource(["http://tasks.cjm_echo:8000", "http://127.0.0.1:18100"],
                       resolver=lambda host, port: ["10.0.1.7", "10.0.1.5"])
    endpoints = source.endpoints()
    assert [e.url for e in endpoints] == ["http://10.0.1.7:8000", "http://10.0.1.5:8000",
                                          "http://127.0.0.1:18100"]
    assert endpoints[0].key == "tasks.cjm_echo/10.0.1.7"

    def nothing(host: str, port: int) -> list[str]:
        raise OSError("no such host")

    assert UrlSource(["http://tasks.x:8000"], resolver=nothing).endpoints() == []


class FakeSwarm:
    def __init__(self, tasks: list[ServiceTask]):
        self.tasks = tasks

    def service_tasks(self, service: str) -> list[ServiceTask]:
        return self.tasks

    def local_node_id(self) -> str:
        return "node-here"

    def node_address(self, node_id: str) -> str:
        return {"node-here": "10.1.0.1", "node-far": "10.1.0.2"}[node_id]

    def network_addresses(self, network: str) -> dict[str, str]:
        assert network == "docker_gwbridge"
        return {"c1": "172.18.0.5", "c3": "172.18.0.7"}

    def container_logs(self, container_id: str, *, tail: int | str = "all") -> str:
        return f"log of {container_id}\n"


def task(id: str, node: str, container: str, *, state: str = "running",
         ports: dict[int, int] | None = None, slot: int = 1, message: str = "",
         exit_code: int | None = None) -> ServiceTask:
    return ServiceTask(id=id, slot=slot, node_id=node, state=state, desired_state="running"
                       if state == "running" else "shutdown", container_id=container,
                       host_ports=ports or {}, message=message, exit_code=exit_code)


def test_swarm_replicas_are_reached_directly() -> None:
    engine = FakeSwarm([
        task("t1", "node-here", "c1", slot=1),                         # local: gateway bridge
        task("t2", "node-far", "c2", slot=2, ports={8000: 30002}),     # host-mode port
        task("t3", "node-far", "c3", slot=3),                          # remote, nothing published
        task("t4", "node-here", "c4", slot=4, state="failed", message="exit 137", exit_code=137),
    ])
    source = SwarmServiceSource(engine, "cjm_echo")  # type: ignore[arg-type]
    endpoints = source.endpoints()
    assert [(e.key, e.url) for e in endpoints] == [("t1", "http://172.18.0.5:8000"),
                                                   ("t2", "http://10.1.0.2:30002")]
    assert endpoints[0].connect_timeout < endpoints[1].connect_timeout
    assert source.unreachable == ["task cjm_echo.3 (t3)"]
    assert source.explain_loss("t4") == ("its task is failed: exit 137", 137)
    assert source.explain_loss("t1") is None
    assert source.explain_loss("gone") == ("its task is gone", None)
    assert source.log_tail(5, "t1") == "log of c1"


def test_attach_mode_reaches_the_manager_without_an_upward_import(tmp_path: Path) -> None:
    # A fresh process: the public PluginManager brings deploy's reader; the bare host module
    # alone has none and says what to do, leaving the manager as it was.
    script = f"""
import sys
from pathlib import Path
from cjm_docker.config import load_config
from cjm_docker.errors import ConfigError
from cjm_docker.host import manager as manager_module
from cjm_docker.host.manager import PluginManager
manager = PluginManager(search_paths=[], config=load_config(data_dir=Path({str(tmp_path)!r})))
assert "cjm_docker.deploy" not in sys.modules
try:
    manager.attach_deployment({str(tmp_path / "none")!r})
except ConfigError as exc:
    assert "cjm_docker.deploy" in str(exc) and "from cjm_docker import PluginManager" in str(exc)
else:
    raise SystemExit("attach_deployment worked without deploy's reader")
assert manager.search_paths == [] and manager.attachments == {{}}
import cjm_docker
assert cjm_docker.PluginManager is PluginManager and "cjm_docker.deploy" in sys.modules
from cjm_docker.host import attachment
from cjm_docker.deploy.attach import read_deployment
assert attachment._readers[-1] is read_deployment
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
