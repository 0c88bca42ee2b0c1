"""``ReplicaSet``: one plugin's replicas as this host sees them, and the policy over them.

It keeps one pooled ``WorkerClient`` per replica and decides, for ``ReplicaSetClient``:

- which replica takes a call: the one with the fewest of this host's calls in flight, round
  robin among equals (sequential calls alternate, concurrent ones fan out); replicas that failed
  recently are skipped for ``quarantine`` seconds while others remain;
- whether a failed attempt may go to another replica (``retriable``): only when nothing of the
  call can have run (see ``replicas.py``);
- which config each replica has: ``initialize`` is remembered with a generation number, and a
  replica that has not had the current one gets it before its next call;
- who the replicas are: re-read from the ``ReplicaSource`` every ``refresh_interval`` seconds
  (in the background, started by a call) and at once before a retry.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from cjm_docker.deploy.endpoints import Endpoint, ReplicaSource
from cjm_docker.errors import (
    CjmDockerError,
    PluginCallError,
    WorkerConnectError,
    WorkerUnreachable,
)
from cjm_docker.host.transport import WorkerAddress, WorkerClient

log = logging.getLogger(__name__)

#: The worker's answer while it loads the plugin or shuts down: nothing of the call ran.
NOT_READY_TYPE = "WorkerNotReady"


@dataclass(frozen=True)
class ReplicaFailure:
    """A call that failed on a replica after it was sent (not retried)."""

    endpoint: Endpoint
    during: str
    error: CjmDockerError


@dataclass
class Replica:
    """One replica as this host tracks it."""

    endpoint: Endpoint
    client: WorkerClient
    inflight: int = 0           # calls of this host running on it
    jobs: int = 0               # of which execute / streams
    calls: int = 0              # calls sent to it, ever (stats, tests)
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


class ReplicaSet:
    """The replicas of one plugin.

    Args:
        source: finds the replicas.
        token: the workers' token (one per plugin service).
        plugin: the plugin name, for messages.
        refresh_interval: seconds between membership reads.
        quarantine: seconds a failed replica is skipped while others remain.
        clock: time source (tests).
        client_factory: makes a replica's client (tests).
    """

    def __init__(self, source: ReplicaSource, token: str, plugin: str, *,
                 refresh_interval: float = 5.0, quarantine: float = 5.0,
                 clock: Callable[[], float] = time.monotonic,
                 client_factory: Callable[[Endpoint], WorkerClient] | None = None):
        self.source = source
        self.plugin = plugin
        self.refresh_interval = refresh_interval
        self.quarantine = quarantine
        self.retries = 0   # calls moved to another replica after a safe failure (all time)
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

    def refresh_before_call(self) -> bool:
        """Start a due refresh without making the call wait for it (a background thread);
        True when the caller must refresh first because no replica is known yet."""
        if self._refreshed_at is not None and \
                self._clock() - self._refreshed_at < self.refresh_interval:
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

    def no_replica(self) -> WorkerConnectError:
        """The error for "nothing to send the call to", with what is known about why."""
        detail = f" ({self._last_error})" if self._last_error else ""
        unreachable = getattr(self.source, "unreachable", None)
        if unreachable:
            detail += (f"; running but unreachable from this host: {', '.join(unreachable)} "
                       "(publish the worker port in host mode, see docs/deploy.md)")
        return WorkerConnectError(f"No replica of plugin '{self.plugin}' is available at "
                                  f"{self.source.describe()}{detail}.", plugin=self.plugin)

    # -- choice -----------------------------------------------------------------------------

    def choose(self, attempt: int, tried: set[str], *, job: bool,
               last: CjmDockerError | None, prefer: Replica | None = None) -> Replica:
        """The replica for an attempt (counted as in flight until ``release``); the previous
        attempt's error when no other replica is left."""
        with self._lock:
            now = self._clock()
            if prefer is not None and not attempt:
                replica = prefer
            else:
                candidates = [r for r in self._replicas.values() if r.key not in tried]
                pool = [r for r in candidates if r.down_until <= now] or candidates
                if not pool:
                    if last is not None:
                        raise last
                    raise self.no_replica()
                least = min(r.inflight for r in pool)
                tied = [r for r in pool if r.inflight == least]
                replica = tied[self._turn % len(tied)]
                self._turn += 1
            replica.inflight += 1
            replica.calls += 1
            replica.jobs += job
        tried.add(replica.key)
        return replica

    def release(self, replica: Replica, *, job: bool) -> None:
        """The attempt on ``replica`` is over."""
        with self._lock:
            replica.inflight -= 1
            replica.jobs -= job
            if replica.retired and replica.inflight == 0:
                replica.client.close()

    def running_job(self) -> Replica | None:
        """A replica running one of this host's jobs (progress is about the running call)."""
        with self._lock:
            return next((r for r in self._replicas.values() if r.jobs > 0), None)

    # -- failures ---------------------------------------------------------------------------

    def lost(self, replica: Replica, exc: CjmDockerError, *,
             quarantine: float | None = None) -> None:
        """Skip ``replica`` for a while (warned once per outage)."""
        with self._lock:
            now = self._clock()
            was_up = replica.down_until <= now
            replica.failures += 1
            replica.down_until = now + (self.quarantine if quarantine is None else quarantine)
        log.log(logging.WARNING if was_up else logging.DEBUG, "Plugin %s: replica %s failed: %s",
                self.plugin, replica.endpoint.label, exc)

    def retriable(self, replica: Replica, exc: CjmDockerError, *, path: str, idempotent: bool,
                  started: bool) -> bool:
        """After a failed attempt: True to try another replica, False to raise ``exc``.

        Args:
            path: what was sent (``/initialize`` when the failure came from bringing the
                replica's config up to date, before the call itself was sent).
            idempotent: sending ``path`` twice is harmless.
            started: the worker already answered part of it (stream frames arrived).
        """
        retry = False
        if isinstance(exc, WorkerConnectError):   # never left this host
            self.lost(replica, exc)
            retry = not started
        elif isinstance(exc, WorkerUnreachable):  # sent, then the connection broke
            self.lost(replica, exc)
            retry = idempotent and not started
            if not retry:
                _last_failure.set(ReplicaFailure(replica.endpoint, path, exc))
        elif isinstance(exc, PluginCallError) and exc.remote_type == NOT_READY_TYPE \
                and not started:                   # loading or stopping: the plugin did not run it
            self.lost(replica, exc, quarantine=min(1.0, self.quarantine))
            retry = True
        if retry:
            with self._lock:
                replica.retried += 1
                self.retries += 1
        return retry

    @staticmethod
    def take_failure() -> ReplicaFailure | None:
        """The failure that just ended a call in this thread or task (and forget it)."""
        failure = _last_failure.get()
        _last_failure.set(None)
        return failure

    # -- config -----------------------------------------------------------------------------

    def needs_config(self, replica: Replica) -> bool:
        return self._config is not None and replica.generation != self._generation

    def ensure_initialized(self, replica: Replica) -> None:
        """Send the remembered config to a replica that has not had it (once per generation)."""
        if not self.needs_config(replica):
            return
        with replica.init_lock:
            with self._lock:  # the pair, as initialize_all set it
                generation, config = self._generation, self._config
            if replica.generation != generation:
                replica.client.call("POST", "/initialize", config, timeout=None)
                replica.generation = generation

    def initialize_all(self, config: Any) -> dict[str, Any]:
        """Initialize every replica (in parallel: a plugin may load a model); one that cannot
        be reached gets the config when it is next chosen."""
        self.refresh()
        with self._lock:
            self._config, self._generation = config, self._generation + 1
        replicas = [r for r in self.replicas() if r.down_until <= self._clock()] or self.replicas()
        if not replicas:
            raise self.no_replica()
        with ThreadPoolExecutor(max_workers=min(8, len(replicas))) as pool:
            outcomes = list(pool.map(self._try_initialize, replicas))
        plugin_errors = [e for e in outcomes
                         if e is not None and not isinstance(e, WorkerUnreachable)]
        if plugin_errors:
            raise plugin_errors[0]
        if all(e is not None for e in outcomes):
            raise next(e for e in outcomes if e is not None)
        return {"status": "ok"}

    def _try_initialize(self, replica: Replica) -> CjmDockerError | None:
        try:
            self.ensure_initialized(replica)
            return None
        except WorkerUnreachable as exc:
            self.lost(replica, exc)
            return exc
        except CjmDockerError as exc:
            return exc

    # -- broadcasts -------------------------------------------------------------------------

    def cancel_jobs(self, timeout: float | None) -> dict[str, Any]:
        """Ask every replica running one of this host's jobs to cancel it."""
        cancelled = False
        for replica in [r for r in self.replicas() if r.jobs > 0]:
            try:
                answer = replica.client.call("POST", "/cancel", timeout=timeout)
                cancelled = cancelled or bool(answer.get("cancelled"))
            except WorkerUnreachable as exc:
                self.lost(replica, exc)
        return {"cancelled": cancelled, "status": "cancelled" if cancelled else "idle"}

    def cleanup_all(self, timeout: float | None) -> dict[str, Any]:
        """Run the plugin's cleanup on every replica (failures are logged)."""
        for replica in self.replicas():
            try:
                replica.client.call("POST", "/cleanup", timeout=timeout)
            except CjmDockerError as exc:
                log.warning("Cleanup on replica %s failed: %s", replica.endpoint.label, exc)
        return {"status": "cleaned"}

    # -- reporting and lifecycle ------------------------------------------------------------

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
