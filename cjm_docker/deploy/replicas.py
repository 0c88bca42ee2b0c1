"""``ReplicaSetClient``: one plugin's calls spread over its replicas, with safe retries.

It stands where a ``WorkerClient`` stands (``RemotePluginProxy`` cannot tell the difference)
and keeps one pooled ``WorkerClient`` per replica. Per call:

- Choice: the replica with the fewest calls in flight from this host, round robin among equals,
  so sequential calls alternate and concurrent ones fan out. Replicas that failed recently are
  skipped (``quarantine``) while others remain.
- Retry, once, on another replica, only where it is safe:
    * the connection could not be opened (``WorkerConnectError``): the request never left;
    * the worker answered 503 ``WorkerNotReady`` (loading or shutting down): the plugin did not
      run it;
    * any broken connection, for idempotent control calls (health, progress, stats, config,
      schema).
  A connection that breaks after ``execute`` or a stream was sent is not retried: the plugin may
  have started. The proxy then asks the handle why (``last_failure``).
- Config: ``initialize`` goes to every replica and is remembered; a replica that appears later
  (scaled up, or restarted by Swarm) gets it before its first call.
- Membership is re-read from the ``ReplicaSource`` every ``refresh_interval`` seconds (in the
  background, started by a call), and at once before a retry.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from cjm_docker.deploy.endpoints import Endpoint, ReplicaSource
from cjm_docker.errors import CjmDockerError, PluginCallError
from cjm_docker.host.transport import (
    CONTROL_TIMEOUT,
    WorkerAddress,
    WorkerClient,
    WorkerConnectError,
    WorkerUnreachable,
)

log = logging.getLogger(__name__)


#: The worker's answer while it loads the plugin or shuts down: nothing of the call ran.
NOT_READY_TYPE = "WorkerNotReady"
_IDEMPOTENT_GETS = frozenset({"/health", "/progress", "/stats", "/config", "/config_schema"})
_JOB_PATHS = frozenset({"/execute", "/execute_stream"})
_BROADCASTS = frozenset({"/initialize", "/cancel", "/cleanup"})


@dataclass(frozen=True)
class ReplicaFailure:
    """A call that failed on a replica after it was sent (not retried)."""

    endpoint: Endpoint
    during: str
    error: CjmDockerError


@dataclass
class Replica:
    """One replica as the client tracks it."""

    endpoint: Endpoint
    client: WorkerClient
    inflight: int = 0           # calls of this host running on it
    jobs: int = 0               # of which execute / streams
    calls: int = 0              # calls sent to it, ever (for stats and tests)
    failures: int = 0
    retried: int = 0            # calls that failed here safely and went to another replica
    down_until: float = 0.0     # skipped until then (clock time)
    generation: int = 0         # the config generation it was initialized with
    retired: bool = False       # gone from the source: closed once idle
    init_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def key(self) -> str:
        return self.endpoint.key


_last_failure: contextvars.ContextVar[ReplicaFailure | None] = contextvars.ContextVar(
    "cjm_replica_failure", default=None)


class ReplicaSetClient(WorkerClient):
    """A ``WorkerClient`` over every replica of one plugin.

    Args:
        source: finds the replicas.
        token: the workers' token (one per plugin service).
        plugin: the plugin name, for messages.
        refresh_interval: seconds between membership reads (lazily, on a call).
        quarantine: seconds a failed replica is skipped while others remain.
        cleanup_on_release: run the plugin's ``cleanup`` on every replica when the host unloads
            the plugin. Off by default: the service is shared, and stays up for other hosts.
        clock: time source (tests).
    """

    def __init__(self, source: ReplicaSource, token: str, plugin: str, *,
                 refresh_interval: float = 5.0, quarantine: float = 5.0,
                 cleanup_on_release: bool = False,
                 clock: Callable[[], float] = time.monotonic,
                 client_factory: Callable[[Endpoint], WorkerClient] | None = None):
        # No super().__init__: this client owns no connection; its replicas' clients do.
        self.source = source
        self.plugin = plugin
        self.address = WorkerAddress(base_url=source.describe())
        self.connect_timeout = None
        self.refresh_interval = refresh_interval
        self.quarantine = quarantine
        self.cleanup_on_release = cleanup_on_release
        self._token = token
        self._clock = clock
        self._client_factory = client_factory or self._new_client
        self._replicas: dict[str, Replica] = {}
        self._lock = threading.RLock()
        self._turn = 0
        self._refreshed_at: float | None = None
        self._refreshing = False
        self._config: Any = None
        self._generation = 0
        self._last_error: CjmDockerError | None = None
        self.retries = 0   # calls moved to another replica after a safe failure (all time)

    def _new_client(self, endpoint: Endpoint) -> WorkerClient:
        return WorkerClient(WorkerAddress(base_url=endpoint.url), self._token, self.plugin,
                            connect_timeout=endpoint.connect_timeout)

    # -- membership -------------------------------------------------------------------------

    def refresh(self, *, force: bool = False) -> None:
        """Re-read the replicas from the source (at most every ``refresh_interval`` unless
        ``force``; a failing source keeps the replicas known so far)."""
        now = self._clock()
        with self._lock:
            if not force and self._refreshed_at is not None and \
                    now - self._refreshed_at < self.refresh_interval:
                return
            self._refreshed_at = now
        try:
            endpoints = self.source.endpoints()
        except CjmDockerError as exc:
            if str(exc) != str(self._last_error):
                log.warning("Cannot list the replicas of %s: %s", self.plugin, exc)
            self._last_error = exc
            return
        self._last_error = None
        with self._lock:
            wanted = {e.key: e for e in endpoints}
            for key, replica in list(self._replicas.items()):
                if key not in wanted or wanted[key].url != replica.endpoint.url:
                    replica.retired = True
                    del self._replicas[key]
                    if replica.inflight == 0:
                        replica.client.close()
            for key in sorted(wanted):
                if key not in self._replicas:
                    self._replicas[key] = Replica(wanted[key], self._client_factory(wanted[key]))

    def _refresh_due(self) -> bool:
        return self._refreshed_at is None or \
            self._clock() - self._refreshed_at >= self.refresh_interval

    def _refresh_before_call(self) -> bool:
        """Start a due refresh without making the call wait for it (a background thread);
        True when the caller must refresh first because no replica is known yet."""
        if not self._refresh_due():
            return False
        with self._lock:
            if not self._replicas:
                return True
            if self._refreshing:
                return False
            self._refreshing = True
        threading.Thread(target=self._background_refresh, daemon=True,
                         name=f"cjm-replicas-{self.plugin}").start()
        return False

    def _background_refresh(self) -> None:
        try:
            self.refresh()
        finally:
            self._refreshing = False

    def replicas(self) -> list[Replica]:
        """The replicas known now (a snapshot)."""
        with self._lock:
            return list(self._replicas.values())

    def live_count(self) -> int:
        """Replicas known and not failing."""
        now = self._clock()
        return sum(1 for r in self.replicas() if r.down_until <= now)

    def _pick(self, exclude: set[str], *, job: bool) -> Replica:
        with self._lock:
            now = self._clock()
            candidates = [r for r in self._replicas.values() if r.key not in exclude]
            pool = [r for r in candidates if r.down_until <= now] or candidates
            if not pool:
                raise self._no_replica()
            least = min(r.inflight for r in pool)
            tied = [r for r in pool if r.inflight == least]
            replica = tied[self._turn % len(tied)]
            self._turn += 1
            replica.inflight += 1
            replica.calls += 1
            replica.jobs += job
            return replica

    def _release(self, replica: Replica, *, job: bool) -> None:
        with self._lock:
            replica.inflight -= 1
            replica.jobs -= job
            if replica.retired and replica.inflight == 0:
                replica.client.close()

    def _lost(self, replica: Replica, exc: CjmDockerError, *, quarantine: float | None = None) -> None:
        with self._lock:
            now = self._clock()
            was_up = replica.down_until <= now
            replica.failures += 1
            replica.down_until = now + (self.quarantine if quarantine is None else quarantine)
        log.log(logging.WARNING if was_up else logging.DEBUG, "Plugin %s: replica %s failed: %s",
                self.plugin, replica.endpoint.label, exc)

    def _no_replica(self) -> WorkerConnectError:
        detail = f" ({self._last_error})" if self._last_error else ""
        unreachable = getattr(self.source, "unreachable", None)
        if unreachable:
            detail += (f"; running but unreachable from this host: {', '.join(unreachable)} "
                       "(publish the worker port in host mode, see docs/deploy.md)")
        return WorkerConnectError(f"No replica of plugin '{self.plugin}' is available at "
                                  f"{self.source.describe()}{detail}.", plugin=self.plugin)

    # -- config -----------------------------------------------------------------------------

    def _needs_config(self, replica: Replica) -> bool:
        return self._config is not None and replica.generation != self._generation

    def _ensure_initialized(self, replica: Replica) -> None:
        """Send the remembered config to a replica that has not had it (once per generation)."""
        if not self._needs_config(replica):
            return
        with replica.init_lock:
            with self._lock:  # the pair, as _initialize_all set it
                generation, config = self._generation, self._config
            if replica.generation != generation:
                replica.client.call("POST", "/initialize", config, timeout=None)
                replica.generation = generation

    def _initialize_all(self, config: Any) -> dict[str, Any]:
        """Initialize every replica (in parallel: a plugin may load a model); a replica that
        cannot be reached gets the config when it is next chosen."""
        self.refresh()
        with self._lock:
            self._config, self._generation = config, self._generation + 1
        replicas = [r for r in self.replicas() if r.down_until <= self._clock()] or self.replicas()
        if not replicas:
            raise self._no_replica()
        with ThreadPoolExecutor(max_workers=min(8, len(replicas))) as pool:
            outcomes = list(pool.map(self._try_initialize, replicas))
        plugin_errors = [e for e in outcomes if e is not None and
                         not isinstance(e, WorkerUnreachable)]
        if plugin_errors:
            raise plugin_errors[0]
        if all(e is not None for e in outcomes):
            raise next(e for e in outcomes if e is not None)
        return {"status": "ok"}

    def _try_initialize(self, replica: Replica) -> CjmDockerError | None:
        try:
            self._ensure_initialized(replica)
            return None
        except WorkerUnreachable as exc:
            self._lost(replica, exc)
            return exc
        except CjmDockerError as exc:
            return exc

    # -- one attempt at a time --------------------------------------------------------------

    def _choose(self, attempt: int, tried: set[str], prefer: Replica | None, *, job: bool,
                last: CjmDockerError | None) -> Replica:
        """The replica for this attempt; the previous attempt's error when none is left."""
        try:
            replica = self._take(prefer, job=job) if prefer is not None and not attempt \
                else self._pick(tried, job=job)
        except WorkerConnectError:
            if last is None:
                raise
            raise last from None
        tried.add(replica.key)
        return replica

    def _take(self, replica: Replica, *, job: bool) -> Replica:
        with self._lock:
            replica.inflight += 1
            replica.calls += 1
            replica.jobs += job
            return replica

    def _retriable(self, replica: Replica, exc: CjmDockerError, *, path: str, idempotent: bool,
                   started: bool) -> bool:
        """After a failed attempt: True to try another replica, False to raise ``exc``.

        Args:
            path: what was sent (``/initialize`` when the failure came from bringing a new
                replica's config up to date, before the call itself was sent).
            idempotent: sending ``path`` twice is harmless.
            started: the worker already answered part of it (stream frames arrived).
        """
        retry = False
        if isinstance(exc, WorkerConnectError):   # never left this host
            self._lost(replica, exc)
            retry = not started
        elif isinstance(exc, WorkerUnreachable):  # sent, then the connection broke
            self._lost(replica, exc)
            retry = idempotent and not started
            if not retry:
                _last_failure.set(ReplicaFailure(replica.endpoint, path, exc))
        elif isinstance(exc, PluginCallError) and exc.remote_type == NOT_READY_TYPE \
                and not started:                   # loading or stopping: the plugin did not run it
            self._lost(replica, exc, quarantine=min(1.0, self.quarantine))
            retry = True
        if retry:
            with self._lock:
                replica.retried += 1
                self.retries += 1
        return retry

    # -- unary calls ------------------------------------------------------------------------

    def call(self, method: str, path: str, body: Any = None, *,
             timeout: float | None = CONTROL_TIMEOUT) -> Any:
        """Send one call to one replica (initialize, cancel and cleanup: to each)."""
        if path in _BROADCASTS:
            return self._broadcast(path, body, timeout)
        if self._refresh_before_call():
            self.refresh()
        job = path in _JOB_PATHS
        idempotent = _idempotent(method, path)
        prefer = self._busiest() if path == "/progress" else None
        tried: set[str] = set()
        last: CjmDockerError | None = None
        for attempt in range(2):
            if attempt:
                self.refresh(force=True)
            replica = self._choose(attempt, tried, prefer, job=job, last=last)
            sent = False
            try:
                self._ensure_initialized(replica)
                sent = True
                return replica.client.call(method, path, body, timeout=timeout)
            except CjmDockerError as exc:
                if not self._retriable(replica, exc, path=path if sent else "/initialize",
                                       idempotent=idempotent or not sent, started=False):
                    raise
                last = exc
            finally:
                self._release(replica, job=job)
        assert last is not None
        raise last

    async def acall(self, method: str, path: str, body: Any = None, *,
                    timeout: float | None = CONTROL_TIMEOUT) -> Any:
        """The async twin of ``call`` (membership and config updates run off the event loop)."""
        if path in _BROADCASTS:
            return await asyncio.to_thread(self._broadcast, path, body, timeout)
        if self._refresh_before_call():
            await asyncio.to_thread(self.refresh)
        job = path in _JOB_PATHS
        idempotent = _idempotent(method, path)
        prefer = self._busiest() if path == "/progress" else None
        tried: set[str] = set()
        last: CjmDockerError | None = None
        for attempt in range(2):
            if attempt:
                await asyncio.to_thread(self.refresh, force=True)
            replica = self._choose(attempt, tried, prefer, job=job, last=last)
            sent = False
            try:
                if self._needs_config(replica):
                    await asyncio.to_thread(self._ensure_initialized, replica)
                sent = True
                return await replica.client.acall(method, path, body, timeout=timeout)
            except CjmDockerError as exc:
                if not self._retriable(replica, exc, path=path if sent else "/initialize",
                                       idempotent=idempotent or not sent, started=False):
                    raise
                last = exc
            finally:
                self._release(replica, job=job)
        assert last is not None
        raise last

    def health(self, timeout: float = 2.0) -> dict[str, Any]:
        """GET /health of one replica (another one when it does not answer)."""
        return self.call("GET", "/health", timeout=timeout)

    def _busiest(self) -> Replica | None:
        """A replica running this host's job (progress is about the running call)."""
        with self._lock:
            return next((r for r in self._replicas.values() if r.jobs > 0), None)

    # -- calls to every replica -------------------------------------------------------------

    def _broadcast(self, path: str, body: Any, timeout: float | None) -> dict[str, Any]:
        if path == "/initialize":
            return self._initialize_all(body)
        if path == "/cancel":
            return self._cancel_all(timeout)
        return self._release_all(timeout)

    def _cancel_all(self, timeout: float | None) -> dict[str, Any]:
        busy = [r for r in self.replicas() if r.jobs > 0]
        cancelled = False
        for replica in busy:
            try:
                answer = replica.client.call("POST", "/cancel", timeout=timeout)
                cancelled = cancelled or bool(answer.get("cancelled"))
            except WorkerUnreachable as exc:
                self._lost(replica, exc)
        return {"cancelled": cancelled, "status": "cancelled" if cancelled else "idle"}

    def _release_all(self, timeout: float | None) -> dict[str, Any]:
        if not self.cleanup_on_release:
            return {"status": "released"}
        for replica in self.replicas():
            try:
                replica.client.call("POST", "/cleanup", timeout=timeout)
            except CjmDockerError as exc:
                log.warning("Cleanup on replica %s failed: %s", replica.endpoint.label, exc)
        return {"status": "cleaned"}

    # -- streams ----------------------------------------------------------------------------

    def stream(self, path: str, body: Any, *, timeout: float | None = None) -> Iterator[Any]:
        """Stream from one replica; retried elsewhere only before anything of it ran."""
        if self._refresh_before_call():
            self.refresh()
        tried: set[str] = set()
        last: CjmDockerError | None = None
        for attempt in range(2):
            if attempt:
                self.refresh(force=True)
            replica = self._choose(attempt, tried, None, job=True, last=last)
            sent = received = False
            try:
                self._ensure_initialized(replica)
                sent = True
                for value in replica.client.stream(path, body, timeout=timeout):
                    received = True
                    yield value
                return
            except CjmDockerError as exc:
                if not self._retriable(replica, exc, path=path if sent else "/initialize",
                                       idempotent=not sent, started=received):
                    raise
                last = exc
            finally:
                self._release(replica, job=True)
        assert last is not None
        raise last

    async def astream(self, path: str, body: Any, *,
                      timeout: float | None = None) -> AsyncIterator[Any]:
        """The async twin of ``stream``."""
        if self._refresh_before_call():
            await asyncio.to_thread(self.refresh)
        tried: set[str] = set()
        last: CjmDockerError | None = None
        for attempt in range(2):
            if attempt:
                await asyncio.to_thread(self.refresh, force=True)
            replica = self._choose(attempt, tried, None, job=True, last=last)
            sent = received = False
            try:
                if self._needs_config(replica):
                    await asyncio.to_thread(self._ensure_initialized, replica)
                sent = True
                async for value in replica.client.astream(path, body, timeout=timeout):
                    received = True
                    yield value
                return
            except CjmDockerError as exc:
                if not self._retriable(replica, exc, path=path if sent else "/initialize",
                                       idempotent=not sent, started=received):
                    raise
                last = exc
            finally:
                self._release(replica, job=True)
        assert last is not None
        raise last

    # -- failures and lifecycle -------------------------------------------------------------

    @staticmethod
    def take_failure() -> ReplicaFailure | None:
        """The failure that just ended a call in this thread or task (and forget it)."""
        failure = _last_failure.get()
        _last_failure.set(None)
        return failure

    def stats(self) -> list[dict[str, Any]]:
        """Per replica: label, url, calls sent, failures, calls retried elsewhere, whether it
        is skipped now."""
        now = self._clock()
        return [{"key": r.key, "label": r.endpoint.label, "url": r.endpoint.url,
                 "calls": r.calls, "failures": r.failures, "retried": r.retried,
                 "down": r.down_until > now}
                for r in self.replicas()]

    def close(self) -> None:
        """Close every replica's pool."""
        with self._lock:
            replicas, self._replicas = list(self._replicas.values()), {}
        for replica in replicas:
            replica.client.close()

    async def aclose(self) -> None:
        self.close()


def _idempotent(method: str, path: str) -> bool:
    return method == "GET" and path in _IDEMPOTENT_GETS
