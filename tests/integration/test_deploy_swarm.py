"""A single-node Swarm: `docker stack deploy` of the same compose file, a plugin scaled to two
replicas, calls reaching both, and replicas killed mid-run without a failed retriable call.

The swarm is initialised here when the engine is not in one, and left again afterwards.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from cjm_docker import labels
from cjm_docker.deploy import orchestrators
from cjm_docker.deploy.compose import PROJECT_LABEL
from cjm_docker.deploy.endpoints import GATEWAY_NETWORK
from cjm_docker.errors import CjmDockerError, WorkerCrashedError
from cjm_docker.host.manager import PluginManager
from tests.integration.deploy_support import (
    docker,
    example_bundle,
    remove_project_leftovers,
    unique_project,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ECHO = "cjm-example-echo"
SWARM_SERVICE_LABEL = "com.docker.swarm.service.name"


@pytest.fixture(scope="module")
def swarm(engine) -> Iterator[None]:
    """An active swarm whose manager is this engine (initialised here if needed, then left)."""
    state = (engine.info().get("Swarm") or {})
    initialised = False
    if state.get("LocalNodeState") == "inactive":
        result = docker("swarm", "init", "--advertise-addr", "127.0.0.1", check=False)
        if result.returncode != 0:
            pytest.skip(f"this engine cannot start a single-node swarm: {result.stderr.strip()}")
        initialised = True
    elif state.get("LocalNodeState") != "active" or not state.get("ControlAvailable"):
        pytest.skip(f"the engine is in a swarm it does not manage ({state.get('LocalNodeState')})")
    try:
        yield
    finally:
        if initialised:
            docker("swarm", "leave", "--force", check=False)
            docker("network", "rm", "docker_gwbridge", check=False)  # swarm init made it


@pytest.fixture(scope="module")
def stack(swarm, example_plugins, cjm_config, engine, tmp_path_factory) -> Iterator[Any]:
    """The example plugins deployed as a stack from the compose file, unchanged."""
    project = unique_project()
    bundle = example_bundle(cjm_config, tmp_path_factory.mktemp("stack") / "compose", project)
    try:
        orchestrators.stack_deploy(bundle, project)
        ready = orchestrators.wait_ready(bundle, stack=project, timeout=120, engine=engine)
        assert ready == {ECHO: 1, "cjm-example-fileinfo": 1}
        yield bundle
    finally:
        try:
            orchestrators.stack_remove(project)
        finally:
            remove_project_leftovers(engine, project)
            for secret in docker("secret", "ls", "-q", "--filter",
                                 f"label={PROJECT_LABEL}={project}", check=False).stdout.split():
                docker("secret", "rm", secret, check=False)


@pytest.fixture(scope="module")
def manager(stack, cjm_config, engine) -> Iterator[PluginManager]:
    mgr = PluginManager(search_paths=[], config=cjm_config, engine=engine)
    # A long refresh interval: membership changes are then seen only when a call fails over,
    # which is what the tests below want to observe.
    mgr.attach_deployment(stack.folder, stack=stack.project, refresh_interval=60.0)
    try:
        yield mgr
    finally:
        mgr.unload_all()


@pytest.fixture(scope="module")
def two_replicas(stack) -> str:
    """The echo service scaled to two replicas (the attach side finds them by itself)."""
    service = f"{stack.project}_{ECHO}"
    docker("service", "scale", "--detach", f"{service}=2")
    return service


def replica_containers(engine, client) -> dict[str, str]:
    """Endpoint URL -> the container that owns its address on the gateway bridge."""
    owners = {ip: cid for cid, ip in engine.network_addresses(GATEWAY_NETWORK).items()}
    return {r.endpoint.url: owners.get(r.endpoint.url.split("//")[1].split(":")[0], "")
            for r in client.replicas()}


def wait_for_replicas(client, count: int, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        client.refresh(force=True)
        if client.live_count() >= count:
            return
        time.sleep(0.5)
    raise AssertionError(f"{count} replicas not ready in {timeout} s: {client.stats()}")


def test_stack_deploy_of_the_same_file_then_attach_executes_on_each(manager, stack,
                                                                     engine) -> None:
    services = docker("service", "ls", "--filter", f"label={labels.MANAGED}=true",
                      "--filter", f"label={PROJECT_LABEL}={stack.project}",
                      "--format", "{{.Name}}").stdout.split()
    assert sorted(services) == [f"{stack.project}_{ECHO}", f"{stack.project}_cjm-example-fileinfo"]
    manager.load_plugin(ECHO, {"prefix": "> "})
    manager.load_plugin("cjm-example-fileinfo")
    assert manager.execute_plugin(ECHO, text="swarm")["text"] == "> swarm"
    note = stack.plugins["cjm-example-fileinfo"].visible_roots[1] / "note.txt"
    note.write_text("hello")
    assert manager.execute_plugin("cjm-example-fileinfo", path=str(note))["size"] == 5


def test_scaled_to_two_replicas_calls_reach_both(manager, two_replicas, engine) -> None:
    manager.load_plugin(ECHO, {"prefix": "> "})
    client = manager.get_plugin(ECHO).client
    wait_for_replicas(client, 2)
    before = {r.key: r.calls for r in client.replicas()}
    answers = [manager.execute_plugin(ECHO, text=str(i))["text"] for i in range(10)]
    assert answers == [f"> {i}" for i in range(10)]  # the new replica got the config too
    served = {r.key: r.calls - before.get(r.key, 0) for r in client.replicas()}
    assert sorted(served.values()) == [5, 5]
    # Independently of the client's bookkeeping: the two addresses belong to two containers
    # of the service, each answering on its own.
    owners = replica_containers(engine, client)
    assert len(set(owners.values())) == 2 and "" not in owners.values()
    for container_id in owners.values():
        state = engine.container_state(container_id)
        assert state.running and state.labels[SWARM_SERVICE_LABEL] == two_replicas
        assert state.labels[labels.MANAGED] == "true"
    hostnames = {manager.get_plugin(ECHO).client.call("GET", "/health").get("hostname")
                 for _ in range(2)}
    if hostnames != {None}:  # workers that report their hostname: it is the container's id
        assert {h[:12] for h in hostnames} == {c[:12] for c in owners.values()}


def test_replicas_killed_mid_run_and_idle_without_a_retriable_failure(manager, two_replicas,
                                                                      engine) -> None:
    manager.load_plugin(ECHO, {"prefix": "> "})
    client = manager.get_plugin(ECHO).client
    wait_for_replicas(client, 2)

    # 1. Killed while both replicas run calls: only the call running on it may fail.
    outcomes: list[tuple[float, str]] = []
    stop = time.monotonic() + 6.0

    def caller(n: int) -> None:
        while time.monotonic() < stop:
            started = time.monotonic()
            try:
                result = manager.execute_plugin(ECHO, text=str(n), sleep=0.4, steps=4)
                outcomes.append((started, "ok" if result["text"] == f"> {n}" else repr(result)))
            except WorkerCrashedError as exc:
                outcomes.append((started, f"crashed: {exc}"))
            except CjmDockerError as exc:
                outcomes.append((started, f"{type(exc).__name__}: {exc}"))

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    victim = client.replicas()[0]
    in_flight = victim.jobs
    victim_container = replica_containers(engine, client)[victim.endpoint.url]
    killed_at = time.monotonic()
    engine.kill_container(victim_container)
    for thread in threads:
        thread.join()
    failures = [(t, what) for t, what in outcomes if what != "ok"]
    assert len(failures) <= in_flight, failures
    for started, what in failures:
        assert started < killed_at and what.startswith("crashed: ")
        assert victim.endpoint.label in what and "not retried" in what
    after = [what for t, what in outcomes if t > killed_at]
    assert len(after) >= 4 and set(after) == {"ok"}, outcomes

    # 2. Killed while idle: the next call sent to it cannot connect and goes to the other.
    wait_for_replicas(client, 2)  # Swarm replaced the killed task; the new one gets the config
    manager.execute_plugin(ECHO, text="warm")
    idle = next(r for r in client.replicas() if r.jobs == 0 and r.down_until <= time.monotonic())
    retries = client.retries
    engine.kill_container(replica_containers(engine, client)[idle.endpoint.url])
    latencies = []
    for i in range(6):
        started = time.perf_counter()
        assert manager.execute_plugin(ECHO, text=str(i))["text"] == f"> {i}"
        latencies.append(time.perf_counter() - started)
    assert client.retries > retries
    assert max(latencies) < 5.0  # one connect timeout at most, then the dead one is skipped
