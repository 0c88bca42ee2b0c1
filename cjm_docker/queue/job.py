"""A job: one ``execute`` call of one plugin, and the states it moves through."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class JobStatus(str, Enum):
    """Where a job is in its life (the values of cjm-plugin-system 0.0.x)."""

    PENDING = "pending"      # waiting for its plugin's lane (in the journal: resumes on restart)
    RUNNING = "running"      # its execute call is in flight (journaled before the call is sent)
    COMPLETED = "completed"  # terminal: the plugin returned; ``result`` holds its value
    FAILED = "failed"        # terminal: the plugin raised, its container died, or it was interrupted
    CANCELLED = "cancelled"  # terminal: cancelled while pending, or stopped after a cancel

    @property
    def is_terminal(self) -> bool:
        """True for the three states a job never leaves."""
        return self in _TERMINAL


_TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})

#: The legal moves; anything else is a bug in the queue, not a user error.
_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.PENDING: frozenset({JobStatus.RUNNING, JobStatus.CANCELLED, JobStatus.FAILED}),
    JobStatus.RUNNING: frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED,
                                  JobStatus.PENDING}),  # PENDING: re-queued on resume
    JobStatus.COMPLETED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.CANCELLED: frozenset(),
}


def new_job_id() -> str:
    return str(uuid.uuid4())


@dataclass(eq=False)
class Job:
    """One queued call: ``manager.execute_plugin_async(plugin_name, *args, **kwargs)``.

    The fields of 0.0.x's ``Job`` keep their names and meanings; the object is updated in
    place while the job runs. Jobs compare by identity; the queue orders them by
    ``order_key`` (priority, then submission sequence), never by a float timestamp.

    Attributes:
        sequence: the submission counter, strictly increasing across host restarts; it breaks
            ties between equal priorities (first come, first served, deterministic).
        error_type: the qualified name of the exception that ended a failed or cancelled job.
        retry_on_restart: run the job again when the host died while it ran (only for
            plugins whose execute is safe to repeat).
        attempts: how many times its execute was sent to a plugin.
    """

    id: str
    plugin_name: str
    args: tuple = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    status: JobStatus = JobStatus.PENDING
    priority: int = 0
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    completed_at: float | None = None
    result: Any = None
    error: str | None = None
    progress: float = 0.0
    status_message: str = ""
    sequence: int = 0
    error_type: str | None = None
    retry_on_restart: bool = False
    attempts: int = 0

    @property
    def order_key(self) -> tuple[int, int]:
        """Higher priority first, then first submitted first."""
        return (-self.priority, self.sequence)

    def __lt__(self, other: Job) -> bool:
        return self.order_key < other.order_key

    def move_to(self, status: JobStatus) -> None:
        """Change status along a legal transition (a bug raises, it is never silent)."""
        if status is not self.status and status not in _TRANSITIONS[self.status]:
            raise RuntimeError(f"Job {self.id}: illegal move {self.status.value} -> {status.value}")
        self.status = status

    def summary(self) -> dict[str, Any]:
        """A JSON-ready view, without args and result (for UIs and events)."""
        return {"id": self.id, "plugin_name": self.plugin_name, "status": self.status.value,
                "priority": self.priority, "created_at": self.created_at,
                "started_at": self.started_at, "completed_at": self.completed_at,
                "progress": self.progress, "status_message": self.status_message,
                "error": self.error, "error_type": self.error_type}
