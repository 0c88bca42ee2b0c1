"""ReplicaSetClient with scripted replicas: spreading, safe retries, config following the
replica set, broadcasts, streams, membership."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from cjm_docker.deploy.endpoints import Endpoint
from cjm_docker.deploy.replica_set import NOT_READY_TYPE
from cjm_docker.deploy.replicas import ReplicaSetClient
from cjm_docker.errors import EngineError, PluginCallError, WorkerConnectError, WorkerUnreachable

EXECUTE = {"args": [], "kwargs": {}}


class FakeWorker:
    """A replica's client: answers, or fails the way it is told to, and records every call."""

    def __init__(self, key: str):
        self.key = key
        self.mode = "ok"            # ok | connect | broken | not_ready | plugin_error
        self.calls: list[tuple[str, Any]] = []
        self.config: Any = None
        self.gate: threading.Event | None = None   # hold calls until set
        self.closed = False
        self.frames = 3
        self.break_after: int | None = None         # stream: break after this many frames

    def _fail(self, path: str) -> None:
        if self.mode == "connect":
            raise WorkerConnectError(f"{self.key}: connection refused", plugin="p")
        if self.mode == "broken":
            raise WorkerUnreachable(f"{self.key}: server disconnected", plugin="p")
        if self.mode == "not_ready":
            raise PluginCallError("busy", plugin="p", remote_type=NOT_READY_TYPE)
        if self.mode == "plugin_error":
            raise PluginCallError("bad config", plugin="p", remote_type="ValueError")

    def call(self, method: str, path: str, body: Any = None, *, timeout: float | None = 10) -> Any:
        self._fail(path)
        self.calls.append((path, body))
        if self.gate is not None and path == "/execute":
            self.gate.wait(5)
        if path == "/initialize":
            self.config = body
            return {"status": "ok"}
        if path == "/cancel":
            return {"cancelled": True}
        return {"replica": self.key, "path": path, "config": self.config}

    async def acall(self, method: str, path: str, body: Any = None, *,
                    timeout: float | None = 10) -> Any:
        return self.call(method, path, body, timeout=timeout)

    def stream(self, path: str, body: Any, *, timeout: float | None = None) -> Iterator[Any]:
        self._fail(path)
        self.calls.append((path, body))
        for i in range(self.frames):
            if self.break_after is not None and i == self.break_after:
                raise WorkerUnreachable("broke mid-stream", plugin="p")
            yield {"replica": self.key, "i": i}

    async def astream(self, path: str, body: Any, *,
                      timeout: float | None = None) -> AsyncIterator[Any]:
        for value in self.stream(path, body, timeout=timeout):
            yield value

    def close(self) -> None:
        self.closed = True


class FakeSource:
    def __init__(self, *keys: str):
        self.keys = list(keys)
        self.fail = False
        self.reads = 0

    def describe(self) -> str:
        return "fake"

    def endpoints(self) -> list[Endpoint]:
        self.reads += 1
        if self.fail:
            raise EngineError("manager unreachable")
        return [Endpoint(k, f"http://{k}:8000", f"replica {k}") for k in self.keys]

    def explain_loss(self, key: str) -> tuple[str, int | None] | None:
        return None

    def log_tail(self, lines: int, key: str | None = None) -> str:
        return ""


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make(*keys: str, clock: Clock, **options: Any) -> tuple[ReplicaSetClient, dict[str, FakeWorker]]:
    workers: dict[str, FakeWorker] = {}

    def factory(endpoint: Endpoint) -> FakeWorker:
        workers[endpoint.key] = FakeWorker(endpoint.key)
        return workers[endpoint.key]

    client = ReplicaSetClient(FakeSource(*keys), "token", "p", clock=clock,
                              client_factory=factory, **options)  # type: ignore[arg-type]
    client.refresh(force=True)
    return client, workers


def served(workers: dict[str, FakeWorker], path: str = "/execute") -> dict[str, int]:
    return {k: sum(1 for p, _ in w.calls if p == path) for k, w in workers.items()}


def test_sequential_calls_alternate_between_replicas(clock) -> None:
    client, workers = make("a", "b", clock=clock)
    answers = [client.call("POST", "/execute", EXECUTE, timeout=None)["replica"]
               for _ in range(6)]
    assert answers == ["a", "b", "a", "b", "a", "b"]
    assert [s["calls"] for s in client.stats()] == [3, 3]


def test_a_busy_replica_is_passed_over(clock) -> None:
    client, workers = make("a", "b", clock=clock)
    workers["a"].gate = threading.Event()
    first = threading.Thread(target=client.call, args=("POST", "/execute", EXECUTE))
    first.start()
    while not workers["a"].calls:
        pass
    assert [client.call("POST", "/execute", EXECUTE)["replica"] for _ in range(3)] == ["b"] * 3
    workers["a"].gate.set()
    first.join()


def test_connect_error_is_retried_on_another_replica_and_the_dead_one_skipped(clock) -> None:
    client, workers = make("a", "b", clock=clock, quarantine=5.0)
    workers["a"].mode = "connect"
    assert client.call("POST", "/execute", EXECUTE)["replica"] == "b"
    assert client.retries == 1
    assert [client.call("POST", "/execute", EXECUTE)["replica"] for _ in range(4)] == ["b"] * 4
    workers["a"].mode = "ok"
    clock.now += 6  # quarantine over: a takes calls again
    answers = {client.call("POST", "/execute", EXECUTE)["replica"] for _ in range(2)}
    assert answers == {"a", "b"}


def test_execute_broken_after_sending_is_not_retried(clock) -> None:
    client, workers = make("a", "b", clock=clock)
    workers["a"].mode = "broken"
    with pytest.raises(WorkerUnreachable, match="disconnected"):
        client.call("POST", "/execute", EXECUTE, timeout=None)
    assert served(workers) == {"a": 0, "b": 0}
    failure = client.take_failure()
    assert failure is not None and failure.endpoint.key == "a" and failure.during == "/execute"
    assert client.take_failure() is None
    assert client.call("POST", "/execute", EXECUTE)["replica"] == "b"


@pytest.mark.parametrize("path", ["/health", "/progress", "/stats", "/config", "/config_schema"])
def test_idempotent_control_calls_are_retried_after_a_broken_connection(clock, path) -> None:
    client, workers = make("a", "b", clock=clock)
    workers["a"].mode = "broken"
    assert client.call("GET", path)["replica"] == "b"
    assert client.take_failure() is None


def test_a_worker_that_is_not_ready_did_not_run_the_call(clock) -> None:
    client, workers = make("a", "b", clock=clock)
    workers["a"].mode = "not_ready"
    assert client.call("POST", "/execute", EXECUTE)["replica"] == "b"


def test_plugin_errors_are_not_retried(clock) -> None:
    client, workers = make("a", "b", clock=clock)
    workers["a"].mode = "plugin_error"
    with pytest.raises(PluginCallError, match="bad config"):
        client.call("POST", "/execute", EXECUTE)
    assert served(workers)["b"] == 0


def test_at_most_one_retry(clock) -> None:
    client, workers = make("a", "b", "c", clock=clock)
    for worker in workers.values():
        worker.mode = "connect"
    with pytest.raises(WorkerConnectError):
        client.call("POST", "/execute", EXECUTE)
    assert sum(s["failures"] for s in client.stats()) == 2


def test_no_replica_at_all(clock) -> None:
    client, _ = make(clock=clock)
    with pytest.raises(WorkerConnectError, match="No replica of plugin 'p' is available at fake"):
        client.call("POST", "/execute", EXECUTE)


def test_single_replica_retry_has_nowhere_to_go(clock) -> None:
    client, workers = make("a", clock=clock)
    workers["a"].mode = "connect"
    with pytest.raises(WorkerConnectError, match="refused"):
        client.call("POST", "/execute", EXECUTE)


def test_config_goes_to_every_replica_and_follows_new_ones(clock) -> None:
    client, workers = make("a", "b", clock=clock, refresh_interval=5.0)
    assert client.call("POST", "/initialize", {"prefix": ">"}, timeout=None) == {"status": "ok"}
    assert workers["a"].config == workers["b"].config == {"prefix": ">"}
    client.source.keys.append("c")  # type: ignore[attr-defined]
    client.refresh(force=True)
    answers = [client.call("POST", "/execute", EXECUTE) for _ in range(3)]
    assert {a["replica"] for a in answers} == {"a", "b", "c"}
    assert all(a["config"] == {"prefix": ">"} for a in answers)
    assert [p for p, _ in workers["c"].calls] == ["/initialize", "/execute"]
    client.call("POST", "/execute", EXECUTE)
    assert [p for p, _ in workers["c"].calls].count("/initialize") == 1


def test_an_unreachable_replica_gets_the_config_when_it_is_back(clock) -> None:
    client, workers = make("a", "b", clock=clock, quarantine=1.0)
    workers["b"].mode = "connect"
    client.call("POST", "/initialize", {"k": 1}, timeout=None)
    assert workers["b"].config is None
    workers["b"].mode = "ok"
    clock.now += 2
    answers = [client.call("POST", "/execute", EXECUTE) for _ in range(2)]
    assert {a["replica"] for a in answers} == {"a", "b"}
    assert workers["b"].config == {"k": 1}


def test_initialize_raises_the_plugins_error_and_needs_one_replica(clock) -> None:
    client, workers = make("a", "b", clock=clock)
    workers["b"].mode = "plugin_error"
    with pytest.raises(PluginCallError, match="bad config"):
        client.call("POST", "/initialize", {"bad": True}, timeout=None)
    workers["b"].mode = "ok"
    for worker in workers.values():
        worker.mode = "connect"
    with pytest.raises(WorkerConnectError):
        client.call("POST", "/initialize", {}, timeout=None)


def test_cancel_reaches_the_replicas_running_our_jobs(clock) -> None:
    client, workers = make("a", "b", clock=clock)
    assert client.call("POST", "/cancel") == {"cancelled": False, "status": "idle"}
    workers["a"].gate = threading.Event()
    job = threading.Thread(target=client.call, args=("POST", "/execute", EXECUTE))
    job.start()
    while not workers["a"].calls:
        pass
    assert client.call("GET", "/progress")["replica"] == "a"  # the replica running the job
    assert client.call("POST", "/cancel") == {"cancelled": True, "status": "cancelled"}
    assert served(workers, "/cancel") == {"a": 1, "b": 0}
    workers["a"].gate.set()
    job.join()


def test_release_leaves_the_shared_service_alone_unless_asked(clock) -> None:
    client, workers = make("a", "b", clock=clock)
    assert client.call("POST", "/cleanup") == {"status": "released"}
    assert served(workers, "/cleanup") == {"a": 0, "b": 0}
    owning, workers = make("a", "b", clock=clock, cleanup_on_release=True)
    assert owning.call("POST", "/cleanup") == {"status": "cleaned"}
    assert served(workers, "/cleanup") == {"a": 1, "b": 1}


def test_stream_retried_only_before_anything_arrived(clock) -> None:
    client, workers = make("a", "b", clock=clock)
    workers["a"].mode = "connect"
    frames = list(client.stream("/execute_stream", EXECUTE))
    assert [f["replica"] for f in frames] == ["b", "b", "b"]
    workers["a"].mode = "ok"
    clock.now += 10
    workers["a"].break_after = 1
    workers["b"].break_after = 1
    received = []
    with pytest.raises(WorkerUnreachable, match="mid-stream"):
        for frame in client.stream("/execute_stream", EXECUTE):
            received.append(frame)
    assert len(received) == 1
    assert served(workers, "/execute_stream") in ({"a": 1, "b": 1}, {"a": 0, "b": 2})
    assert client.take_failure() is not None


def test_async_calls_and_streams_retry_the_same_way(clock) -> None:
    client, workers = make("a", "b", clock=clock)
    workers["a"].mode = "connect"

    async def scenario() -> tuple[Any, list[Any], Any]:
        answer = await client.acall("POST", "/execute", EXECUTE, timeout=None)
        frames = [f async for f in client.astream("/execute_stream", EXECUTE)]
        init = await client.acall("POST", "/initialize", {"x": 1}, timeout=None)
        return answer, frames, init

    answer, frames, init = asyncio.run(scenario())
    assert answer["replica"] == "b" and {f["replica"] for f in frames} == {"b"}
    assert init == {"status": "ok"} and workers["b"].config == {"x": 1}
    workers["b"].mode = "broken"
    workers["a"].mode = "ok"
    clock.now += 10

    async def broken() -> Any:
        return [await client.acall("POST", "/execute", EXECUTE) for _ in range(2)]

    with pytest.raises(WorkerUnreachable):
        asyncio.run(broken())


def test_membership_changes_retire_replicas_and_survive_source_failures(clock) -> None:
    client, workers = make("a", "b", clock=clock)
    client.source.keys.remove("a")  # type: ignore[attr-defined]
    client.refresh(force=True)
    assert [r.key for r in client.replicas()] == ["b"] and workers["a"].closed
    client.source.fail = True  # type: ignore[attr-defined]
    client.refresh(force=True)
    assert [r.key for r in client.replicas()] == ["b"]
    assert client.call("POST", "/execute", EXECUTE)["replica"] == "b"


def test_periodic_refresh_runs_in_the_background(clock) -> None:
    client, workers = make("a", clock=clock, refresh_interval=5.0)
    reads = client.source.reads  # type: ignore[attr-defined]
    client.call("POST", "/execute", EXECUTE)
    assert client.source.reads == reads  # type: ignore[attr-defined]
    clock.now += 6
    client.source.keys.append("b")  # type: ignore[attr-defined]
    client.call("POST", "/execute", EXECUTE)
    for _ in range(200):
        if len(client.replicas()) == 2:
            break
        threading.Event().wait(0.01)
    assert [r.key for r in client.replicas()] == ["a", "b"]
