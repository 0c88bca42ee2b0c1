"""Per-container CPU and memory, computed from the engine's stats document as `docker stats` does.

The engine's own CPU percentage needs two samples, and its streaming endpoint waits about two
seconds to take them. We ask for one-shot samples instead (no wait) and keep the previous one per
container: the CPU percentage is the delta between two of our samples, taken ``window`` seconds
apart when there is no recent previous sample.

The formulas are the docker CLI's (``cli/command/container/stats_helpers.go``):

- memory = ``usage`` minus the page cache that can be dropped: ``total_inactive_file`` on cgroup
  v1, ``inactive_file`` on cgroup v2 (only when smaller than ``usage``);
- CPU % = (container CPU delta / system CPU delta) x online CPUs x 100.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

MIB = 1024 * 1024


class StatsSource(Protocol):
    """What the reader needs from the engine (``cjm_docker.engine.Engine`` has it)."""

    def container_stats(self, container_id: str) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class CpuSample:
    """The cumulative CPU counters of one stats document (nanoseconds)."""

    container_ns: int
    system_ns: int
    online_cpus: int


@dataclass(frozen=True)
class ContainerStats:
    """One container's figures, as `docker stats` would show them."""

    container_id: str
    cpu_percent: float
    memory_usage_bytes: int   # usage without the droppable page cache
    memory_limit_bytes: int   # the container's limit, or the engine's total memory without one
    pids: int

    @property
    def memory_usage_mb(self) -> float:
        return self.memory_usage_bytes / MIB

    @property
    def memory_limit_mb(self) -> float:
        return self.memory_limit_bytes / MIB

    @property
    def memory_percent(self) -> float:
        return 100.0 * self.memory_usage_bytes / self.memory_limit_bytes \
            if self.memory_limit_bytes else 0.0


def memory_usage_bytes(doc: dict[str, Any]) -> int:
    """Memory in use without the droppable page cache (docker's ``calculateMemUsageUnixNoCache``)."""
    memory = doc.get("memory_stats") or {}
    usage = int(memory.get("usage") or 0)
    detail = memory.get("stats") or {}
    if "total_inactive_file" in detail and int(detail["total_inactive_file"]) < usage:  # cgroup v1
        return usage - int(detail["total_inactive_file"])
    inactive = int(detail.get("inactive_file") or 0)                                     # cgroup v2
    return usage - inactive if inactive < usage else usage


def cpu_sample(section: dict[str, Any] | None) -> CpuSample | None:
    """The counters of a ``cpu_stats``/``precpu_stats`` section; None when it is empty."""
    section = section or {}
    usage = section.get("cpu_usage") or {}
    system = section.get("system_cpu_usage")
    if not system:
        return None
    online = int(section.get("online_cpus") or len(usage.get("percpu_usage") or []) or 1)
    return CpuSample(int(usage.get("total_usage") or 0), int(system), online)


def cpu_percent(previous: CpuSample | None, current: CpuSample | None) -> float:
    """docker's ``calculateCPUPercentUnix``: 0.0 without two samples or without progress."""
    if previous is None or current is None:
        return 0.0
    container_delta = current.container_ns - previous.container_ns
    system_delta = current.system_ns - previous.system_ns
    if system_delta <= 0 or container_delta <= 0:
        return 0.0
    return container_delta / system_delta * current.online_cpus * 100.0


def stats_from_document(doc: dict[str, Any], previous: CpuSample | None = None) -> ContainerStats:
    """``ContainerStats`` of one stats document.

    The CPU baseline is the document's own ``precpu_stats`` when the engine filled it (streamed
    samples), else ``previous`` (one-shot samples leave it empty).
    """
    current = cpu_sample(doc.get("cpu_stats"))
    baseline = cpu_sample(doc.get("precpu_stats")) or previous
    memory = doc.get("memory_stats") or {}
    return ContainerStats(
        container_id=str(doc.get("id", "")),
        cpu_percent=cpu_percent(baseline, current),
        memory_usage_bytes=memory_usage_bytes(doc),
        memory_limit_bytes=int(memory.get("limit") or 0),
        pids=int((doc.get("pids_stats") or {}).get("current") or 0),
    )


class ContainerStatsReader:
    """Reads ``ContainerStats`` without the engine's two-second wait.

    Args:
        source: the engine (anything with ``container_stats(id)``).
        window: seconds between the two samples when no recent previous sample exists.
        max_age: a previous sample older than this is too old to be the CPU baseline.
        clock, sleep: injectable for tests.
    """

    def __init__(self, source: StatsSource, *, window: float = 0.25, max_age: float = 5.0,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.source = source
        self.window = window
        self.max_age = max_age
        self._clock = clock
        self._sleep = sleep
        self._previous: dict[str, tuple[float, CpuSample]] = {}
        self._lock = threading.Lock()

    def _sample(self, container_id: str) -> tuple[dict[str, Any] | None, CpuSample | None]:
        doc = self.source.container_stats(container_id)
        return doc, cpu_sample(doc.get("cpu_stats")) if doc else None

    def read(self, container_id: str, *, cpu: bool = True) -> ContainerStats | None:
        """The container's figures now; None when it no longer exists.

        Args:
            cpu: False skips the second sample when there is no recent baseline (the CPU
                percentage is then 0.0, memory is exact): one engine call, no wait.
        """
        with self._lock:
            previous = self._previous.get(container_id)
        if previous is not None and self._clock() - previous[0] > self.max_age:
            previous = None
        if cpu and previous is None:
            doc, first = self._sample(container_id)
            if doc is None:
                self.forget(container_id)
                return None
            if first is not None:   # a stopped container has no counters to compare
                previous = (self._clock(), first)
                self._sleep(self.window)
        doc, current = self._sample(container_id)
        if doc is None:
            self.forget(container_id)
            return None
        if current is not None:
            with self._lock:
                self._previous[container_id] = (self._clock(), current)
        stats = stats_from_document(doc, previous[1] if previous else None)
        return stats if stats.container_id else replace(stats, container_id=container_id)

    async def read_async(self, container_id: str, *, cpu: bool = True) -> ContainerStats | None:
        """``read`` off the event loop."""
        return await asyncio.to_thread(self.read, container_id, cpu=cpu)

    def forget(self, container_id: str) -> None:
        """Drop the CPU baseline of a container (it was removed)."""
        with self._lock:
            self._previous.pop(container_id, None)
