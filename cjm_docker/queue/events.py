"""Job events: what a UI streams with ``async for event in queue.events(job_id)``.

Every subscriber owns a bounded buffer. A slow subscriber never slows the queue: when its
buffer is full the oldest event is dropped (and counted), but the terminal event always gets
in, so every stream ends.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from cjm_docker.queue.job import Job, JobStatus


class EventKind(str, Enum):
    """What happened to a job."""

    SNAPSHOT = "snapshot"            # first event of a late subscriber: the state right now
    SUBMITTED = "submitted"          # accepted and journaled
    STARTED = "started"              # its execute call is about to be sent
    PROGRESS = "progress"            # the plugin reported new progress or a new message
    REORDERED = "reordered"          # its priority changed while pending
    CANCEL_REQUESTED = "cancel_requested"  # cooperative cancel sent to the plugin
    ESCALATED = "escalated"          # cancel_timeout passed: its container is being replaced
    COMPLETED = "completed"          # terminal
    FAILED = "failed"                # terminal
    CANCELLED = "cancelled"          # terminal

    @property
    def is_terminal(self) -> bool:
        return self in (EventKind.COMPLETED, EventKind.FAILED, EventKind.CANCELLED)


TERMINAL_KIND = {JobStatus.COMPLETED: EventKind.COMPLETED, JobStatus.FAILED: EventKind.FAILED,
                 JobStatus.CANCELLED: EventKind.CANCELLED}


@dataclass(frozen=True)
class JobEvent:
    """One change of one job, with the job's state right after it."""

    job_id: str
    kind: EventKind
    status: JobStatus
    progress: float
    message: str
    time: float = field(default_factory=time.time)
    error: str | None = None

    @property
    def is_terminal(self) -> bool:
        return self.kind.is_terminal

    @classmethod
    def of(cls, job: Job, kind: EventKind) -> JobEvent:
        return cls(job.id, kind, job.status, job.progress, job.status_message, error=job.error)

    def to_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "kind": self.kind.value, "status": self.status.value,
                "progress": self.progress, "message": self.message, "time": self.time,
                "error": self.error}


class Subscription:
    """One subscriber's bounded buffer of events."""

    def __init__(self, maxsize: int = 100):
        self._buffer: deque[JobEvent] = deque()
        self._maxsize = max(1, maxsize)
        self._ready = asyncio.Event()
        self.dropped = 0

    def put(self, event: JobEvent) -> None:
        """Add an event (never blocks); the oldest is dropped when the buffer is full."""
        if len(self._buffer) >= self._maxsize:
            self._buffer.popleft()
            self.dropped += 1
        self._buffer.append(event)
        self._ready.set()

    async def get(self) -> JobEvent:
        while not self._buffer:
            self._ready.clear()
            await self._ready.wait()
        return self._buffer.popleft()


class EventHub:
    """Subscribers per job id (all on the event loop's thread)."""

    def __init__(self, buffer_size: int = 100):
        self.buffer_size = buffer_size
        self._subscribers: dict[str, list[Subscription]] = {}

    def subscribe(self, job_id: str) -> Subscription:
        sub = Subscription(self.buffer_size)
        self._subscribers.setdefault(job_id, []).append(sub)
        return sub

    def unsubscribe(self, job_id: str, sub: Subscription) -> None:
        subs = self._subscribers.get(job_id)
        if subs and sub in subs:
            subs.remove(sub)
            if not subs:
                del self._subscribers[job_id]

    def has_subscribers(self, job_id: str) -> bool:
        return job_id in self._subscribers

    def publish(self, event: JobEvent) -> None:
        subs = self._subscribers.get(event.job_id)
        if not subs:
            return
        for sub in subs:
            sub.put(event)
        if event.is_terminal:
            del self._subscribers[event.job_id]  # nothing follows a terminal event
