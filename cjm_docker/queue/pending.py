"""Pending jobs, one lane per plugin, in priority then submission order.

Pure data structure (no IO, no asyncio): a heap per plugin keyed by ``Job.order_key``. Removal
and re-prioritisation are lazy: the superseded heap entry stays behind and is skipped when it
reaches the top, so every operation is O(log n) and the order is fully deterministic.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator

from cjm_docker.queue.job import Job, JobStatus


class _Entry:
    """One heap slot; ``live`` entries are the only ones that count."""

    __slots__ = ("key", "job")

    def __init__(self, job: Job):
        self.key = job.order_key
        self.job = job

    def __lt__(self, other: _Entry) -> bool:
        return self.key < other.key


class PendingJobs:
    """Pending jobs grouped in per-plugin lanes."""

    def __init__(self) -> None:
        self._lanes: dict[str, list[_Entry]] = {}
        self._live: dict[str, _Entry] = {}  # job id -> its current entry

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._live

    def push(self, job: Job) -> None:
        """Add a pending job (or re-key it after its priority changed)."""
        entry = _Entry(job)
        self._live[job.id] = entry
        heapq.heappush(self._lanes.setdefault(job.plugin_name, []), entry)

    def remove(self, job: Job) -> bool:
        """Take a job out; False when it was not pending here."""
        return self._live.pop(job.id, None) is not None

    def reprioritize(self, job: Job, priority: int) -> bool:
        """Give a pending job a new priority; it keeps its place among equals by sequence."""
        if job.id not in self._live:
            return False
        job.priority = priority
        self.push(job)  # the old entry is now stale and will be skipped
        return True

    def _head(self, plugin: str) -> Job | None:
        heap = self._lanes.get(plugin)
        while heap:
            entry = heap[0]
            if self._live.get(entry.job.id) is entry and entry.job.status is JobStatus.PENDING:
                return entry.job
            heapq.heappop(heap)
        self._lanes.pop(plugin, None)
        return None

    def plugins(self) -> list[str]:
        """Plugins with at least one pending job."""
        return [p for p in list(self._lanes) if self._head(p) is not None]

    def pop_best(self, eligible: Callable[[str], bool]) -> Job | None:
        """Remove and return the best head among the lanes ``eligible`` accepts."""
        best: Job | None = None
        for plugin in list(self._lanes):
            if not eligible(plugin):
                continue
            head = self._head(plugin)
            if head is not None and (best is None or head.order_key < best.order_key):
                best = head
        if best is not None:
            heapq.heappop(self._lanes[best.plugin_name])
            del self._live[best.id]
            if not self._lanes[best.plugin_name]:
                del self._lanes[best.plugin_name]
        return best

    def ordered(self) -> list[Job]:
        """Every pending job in dispatch order across plugins (priority, then sequence)."""
        return sorted((e.job for e in self._live.values()), key=lambda j: j.order_key)

    def __iter__(self) -> Iterator[Job]:
        return iter([e.job for e in self._live.values()])
