"""``ReplicaSetClient``: one plugin's calls spread over its replicas, with safe retries.

It stands where a ``WorkerClient`` stands (``RemotePluginProxy`` cannot tell the difference);
the ``ReplicaSet`` behind it chooses replicas and keeps their config. Per call:

- ``initialize`` goes to every replica (and to later ones before their first call); ``cancel``
  to the replicas running this host's jobs; ``cleanup`` to none unless ``cleanup_on_release``
  (the service is shared and outlives this host's use of it). Everything else goes to one.
- Retry, once, on another replica, only where it is safe:
    * the connection could not be opened (``WorkerConnectError``): the request never left;
    * the worker answered 503 ``WorkerNotReady`` (loading or shutting down): the plugin did not
      run it;
    * any broken connection, for idempotent control calls (health, progress, stats, config,
      schema).
  A connection that breaks after ``execute`` or a stream was sent is not retried: the plugin may
  have started. The handle then explains it (``take_failure`` says which replica it was).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from cjm_docker.deploy.endpoints import Endpoint, ReplicaSource
from cjm_docker.deploy.replica_set import Replica, ReplicaFailure, ReplicaSet
from cjm_docker.errors import CjmDockerError
from cjm_docker.host.channel import CONTROL_TIMEOUT
from cjm_docker.host.transport import WorkerClient

_IDEMPOTENT_GETS = frozenset({"/health", "/progress", "/stats", "/config", "/config_schema"})
_JOB_PATHS = frozenset({"/execute", "/execute_stream"})
_BROADCASTS = frozenset({"/initialize", "/cancel", "/cleanup"})


class RetryPlan:
    """One call's attempts over the replicas: at most two, the second only where safe.

    The sync and async loops of ``ReplicaSetClient`` follow it the same way::

        for attempt in range(2):
            replica = plan.choose(attempt)      # after plan.refresh_forced() on a retry
            try: bring its config up to date; plan.sent(); run; plan.received() per value
            except CjmDockerError as exc: plan.failed(replica, exc)   # raises unless safe
            finally: plan.release(replica)
        plan.give_up()
    """

    __slots__ = ("set", "path", "job", "idempotent", "prefer", "tried", "last",
                 "was_sent", "was_received")

    def __init__(self, replicas: ReplicaSet, method: str, path: str) -> None:
        self.set = replicas
        self.path = path
        self.job = path in _JOB_PATHS
        self.idempotent = method == "GET" and path in _IDEMPOTENT_GETS
        self.prefer = replicas.running_job() if path == "/progress" else None
        self.tried: set[str] = set()
        self.last: CjmDockerError | None = None
        self.was_sent = self.was_received = False

    def choose(self, attempt: int) -> Replica:
        self.was_sent = self.was_received = False
        return self.set.choose(attempt, self.tried, job=self.job, last=self.last,
                               prefer=self.prefer)

    def sent(self) -> None:
        """The call itself is about to go (its replica's config is up to date)."""
        self.was_sent = True

    def received(self) -> None:
        """Part of the answer arrived (a stream frame): the plugin has started."""
        self.was_received = True

    def failed(self, replica: Replica, exc: CjmDockerError) -> None:
        """Raise ``exc`` unless another replica may take the call."""
        # Before it was sent, only the config update (an /initialize) can have reached it.
        if not self.set.retriable(replica, exc,
                                  path=self.path if self.was_sent else "/initialize",
                                  idempotent=self.idempotent or not self.was_sent,
                                  started=self.was_received):
            raise exc
        self.last = exc

    def release(self, replica: Replica) -> None:
        self.set.release(replica, job=self.job)

    def give_up(self) -> CjmDockerError:
        assert self.last is not None
        return self.last


class ReplicaSetClient:
    """The ``WorkerChannel`` over every replica of one plugin.

    Args:
        source: finds the replicas.
        token: the workers' token (one per plugin service).
        plugin: the plugin name, for messages.
        refresh_interval: seconds between membership reads.
        quarantine: seconds a failed replica is skipped while others remain.
        cleanup_on_release: run the plugin's ``cleanup`` on every replica when the host unloads
            the plugin.
        clock, client_factory: for tests.
    """

    def __init__(self, source: ReplicaSource, token: str, plugin: str, *,
                 refresh_interval: float = 5.0, quarantine: float = 5.0,
                 cleanup_on_release: bool = False,
                 clock: Callable[[], float] = time.monotonic,
                 client_factory: Callable[[Endpoint], WorkerClient] | None = None):
        self.plugin = plugin
        self.cleanup_on_release = cleanup_on_release
        self.set = ReplicaSet(source, token, plugin, refresh_interval=refresh_interval,
                              quarantine=quarantine, clock=clock, client_factory=client_factory)

    def describe(self) -> str:
        return self.set.source.describe()

    # -- the set, for handles, stats and tests ----------------------------------------------

    @property
    def source(self) -> ReplicaSource:
        return self.set.source

    @property
    def retries(self) -> int:
        """Calls moved to another replica after a safe failure."""
        return self.set.retries

    def refresh(self, *, force: bool = False) -> None:
        self.set.refresh(force=force)

    def replicas(self) -> list[Replica]:
        return self.set.replicas()

    def live_count(self) -> int:
        return self.set.live_count()

    def stats(self) -> list[dict[str, Any]]:
        return self.set.stats()

    take_failure = staticmethod(ReplicaSet.take_failure)

    # -- the two loops (sync, async) that follow the plan -----------------------------------

    def _attempts(self, method: str, path: str,
                  send: Callable[[Replica], Iterator[Any]]) -> Iterator[Any]:
        s = self.set
        if s.refresh_before_call():
            s.refresh()
        plan = RetryPlan(s, method, path)
        for attempt in range(2):
            if attempt:
                s.refresh(force=True)
            replica = plan.choose(attempt)
            try:
                s.ensure_initialized(replica)
                plan.sent()
                for value in send(replica):
                    plan.received()
                    yield value
                return
            except CjmDockerError as exc:
                plan.failed(replica, exc)
            finally:
                plan.release(replica)
        raise plan.give_up()

    async def _aattempts(self, method: str, path: str,
                         send: Callable[[Replica], AsyncIterator[Any]]) -> AsyncIterator[Any]:
        s = self.set  # membership and config updates run off the event loop
        if s.refresh_before_call():
            await asyncio.to_thread(s.refresh)
        plan = RetryPlan(s, method, path)
        for attempt in range(2):
            if attempt:
                await asyncio.to_thread(s.refresh, force=True)
            replica = plan.choose(attempt)
            try:
                if s.needs_config(replica):
                    await asyncio.to_thread(s.ensure_initialized, replica)
                plan.sent()
                async for value in send(replica):
                    plan.received()
                    yield value
                return
            except CjmDockerError as exc:
                plan.failed(replica, exc)
            finally:
                plan.release(replica)
        raise plan.give_up()

    # -- unary calls ------------------------------------------------------------------------

    def call(self, method: str, path: str, body: Any = None, *,
             timeout: float | None = CONTROL_TIMEOUT) -> Any:
        """Send one call (initialize, cancel and cleanup: to each replica concerned)."""
        if path in _BROADCASTS:
            return self._broadcast(path, body, timeout)

        def send(replica: Replica) -> Iterator[Any]:
            yield replica.client.call(method, path, body, timeout=timeout)
        # A unary answer is a stream of one value (its failure can never be "started").
        (answer,) = list(self._attempts(method, path, send))
        return answer

    async def acall(self, method: str, path: str, body: Any = None, *,
                    timeout: float | None = CONTROL_TIMEOUT) -> Any:
        """The async twin of ``call``."""
        if path in _BROADCASTS:
            return await asyncio.to_thread(self._broadcast, path, body, timeout)

        async def send(replica: Replica) -> AsyncIterator[Any]:
            yield await replica.client.acall(method, path, body, timeout=timeout)
        (answer,) = [value async for value in self._aattempts(method, path, send)]
        return answer

    def health(self, timeout: float = 2.0) -> dict[str, Any]:
        """GET /health of one replica (another one when it does not answer)."""
        return self.call("GET", "/health", timeout=timeout)

    def _broadcast(self, path: str, body: Any, timeout: float | None) -> dict[str, Any]:
        if path == "/initialize":
            return self.set.initialize_all(body)
        if path == "/cancel":
            return self.set.cancel_jobs(timeout)
        if not self.cleanup_on_release:
            return {"status": "released"}
        return self.set.cleanup_all(timeout)

    # -- streams ----------------------------------------------------------------------------

    def stream(self, path: str, body: Any, *, timeout: float | None = None) -> Iterator[Any]:
        """Stream from one replica; retried elsewhere only before anything of it ran."""
        return self._attempts("POST", path,
                              lambda replica: replica.client.stream(path, body, timeout=timeout))

    def astream(self, path: str, body: Any, *,
                timeout: float | None = None) -> AsyncIterator[Any]:
        """The async twin of ``stream``."""
        return self._aattempts("POST", path,
                               lambda replica: replica.client.astream(path, body,
                                                                      timeout=timeout))

    # -- lifecycle --------------------------------------------------------------------------

    def close(self) -> None:
        """Close every replica's pool."""
        self.set.close()

    async def aclose(self) -> None:
        self.set.close()


__all__ = ["ReplicaFailure", "ReplicaSetClient", "RetryPlan"]
