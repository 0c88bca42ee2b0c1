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
from cjm_docker.host.transport import CONTROL_TIMEOUT, WorkerAddress, WorkerClient

_IDEMPOTENT_GETS = frozenset({"/health", "/progress", "/stats", "/config", "/config_schema"})
_JOB_PATHS = frozenset({"/execute", "/execute_stream"})
_BROADCASTS = frozenset({"/initialize", "/cancel", "/cleanup"})


class ReplicaSetClient(WorkerClient):
    """A ``WorkerClient`` over every replica of one plugin.

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
        # No super().__init__: this client owns no connection; its replicas' clients do.
        self.plugin = plugin
        self.address = WorkerAddress(base_url=source.describe())
        self.connect_timeout = None
        self.cleanup_on_release = cleanup_on_release
        self.set = ReplicaSet(source, token, plugin, refresh_interval=refresh_interval,
                              quarantine=quarantine, clock=clock, client_factory=client_factory)

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

    # -- unary calls ------------------------------------------------------------------------

    def call(self, method: str, path: str, body: Any = None, *,
             timeout: float | None = CONTROL_TIMEOUT) -> Any:
        """Send one call (initialize, cancel and cleanup: to each replica concerned)."""
        if path in _BROADCASTS:
            return self._broadcast(path, body, timeout)
        s = self.set
        if s.refresh_before_call():
            s.refresh()
        job, idempotent = path in _JOB_PATHS, _idempotent(method, path)
        prefer = s.running_job() if path == "/progress" else None
        tried: set[str] = set()
        last: CjmDockerError | None = None
        for attempt in range(2):
            if attempt:
                s.refresh(force=True)
            replica = s.choose(attempt, tried, job=job, last=last, prefer=prefer)
            sent = False
            try:
                s.ensure_initialized(replica)
                sent = True
                return replica.client.call(method, path, body, timeout=timeout)
            except CjmDockerError as exc:
                if not s.retriable(replica, exc, path=path if sent else "/initialize",
                                   idempotent=idempotent or not sent, started=False):
                    raise
                last = exc
            finally:
                s.release(replica, job=job)
        assert last is not None
        raise last

    async def acall(self, method: str, path: str, body: Any = None, *,
                    timeout: float | None = CONTROL_TIMEOUT) -> Any:
        """The async twin of ``call`` (membership and config updates run off the event loop)."""
        if path in _BROADCASTS:
            return await asyncio.to_thread(self._broadcast, path, body, timeout)
        s = self.set
        if s.refresh_before_call():
            await asyncio.to_thread(s.refresh)
        job, idempotent = path in _JOB_PATHS, _idempotent(method, path)
        prefer = s.running_job() if path == "/progress" else None
        tried: set[str] = set()
        last: CjmDockerError | None = None
        for attempt in range(2):
            if attempt:
                await asyncio.to_thread(s.refresh, force=True)
            replica = s.choose(attempt, tried, job=job, last=last, prefer=prefer)
            sent = False
            try:
                if s.needs_config(replica):
                    await asyncio.to_thread(s.ensure_initialized, replica)
                sent = True
                return await replica.client.acall(method, path, body, timeout=timeout)
            except CjmDockerError as exc:
                if not s.retriable(replica, exc, path=path if sent else "/initialize",
                                   idempotent=idempotent or not sent, started=False):
                    raise
                last = exc
            finally:
                s.release(replica, job=job)
        assert last is not None
        raise last

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
        s = self.set
        if s.refresh_before_call():
            s.refresh()
        tried: set[str] = set()
        last: CjmDockerError | None = None
        for attempt in range(2):
            if attempt:
                s.refresh(force=True)
            replica = s.choose(attempt, tried, job=True, last=last)
            sent = received = False
            try:
                s.ensure_initialized(replica)
                sent = True
                for value in replica.client.stream(path, body, timeout=timeout):
                    received = True
                    yield value
                return
            except CjmDockerError as exc:
                if not s.retriable(replica, exc, path=path if sent else "/initialize",
                                   idempotent=not sent, started=received):
                    raise
                last = exc
            finally:
                s.release(replica, job=True)
        assert last is not None
        raise last

    async def astream(self, path: str, body: Any, *,
                      timeout: float | None = None) -> AsyncIterator[Any]:
        """The async twin of ``stream``."""
        s = self.set
        if s.refresh_before_call():
            await asyncio.to_thread(s.refresh)
        tried: set[str] = set()
        last: CjmDockerError | None = None
        for attempt in range(2):
            if attempt:
                await asyncio.to_thread(s.refresh, force=True)
            replica = s.choose(attempt, tried, job=True, last=last)
            sent = received = False
            try:
                if s.needs_config(replica):
                    await asyncio.to_thread(s.ensure_initialized, replica)
                sent = True
                async for value in replica.client.astream(path, body, timeout=timeout):
                    received = True
                    yield value
                return
            except CjmDockerError as exc:
                if not s.retriable(replica, exc, path=path if sent else "/initialize",
                                   idempotent=not sent, started=received):
                    raise
                last = exc
            finally:
                s.release(replica, job=True)
        assert last is not None
        raise last

    # -- lifecycle --------------------------------------------------------------------------

    def close(self) -> None:
        """Close every replica's pool."""
        self.set.close()

    async def aclose(self) -> None:
        self.set.close()


def _idempotent(method: str, path: str) -> bool:
    return method == "GET" and path in _IDEMPOTENT_GETS


__all__ = ["ReplicaFailure", "ReplicaSetClient"]
