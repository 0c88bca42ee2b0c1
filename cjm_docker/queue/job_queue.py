"""``JobQueue``: plugin jobs in priority order, one lane per plugin, journaled, cancellable.

The API and ``get_state`` shape of cjm-plugin-system 0.0.x, with these differences:

- Ordering is priority, then a submission counter (never a float timestamp), so equal
  priorities run first come, first served, deterministically, across restarts too.
- A plugin's jobs run one at a time in that order; different plugins run side by side, up to
  ``max_concurrent_plugins`` (None: no limit; 1: 0.0.x's one job at a time).
- Dispatch is driven by events (a submit, a job ending), never by a polling loop.
- ``events(job_id)`` streams a job's changes; late subscribers first get its current state.
- ``cancel`` of a running job escalates (see ``runner``) without blocking the event loop, and
  the job is recorded as CANCELLED however the plugin reacts (it may raise, or be killed).
- ``get_job_logs`` returns that job's lines only.
- Every job is journaled in SQLite (``journal``): a new queue on the same journal resumes the
  pending jobs exactly once and can still read finished results.

Restart rules: a job journaled as ``pending`` runs again. A job journaled as ``running`` was
interrupted by a host that died; since a plugin may not be idempotent it is recorded as FAILED
(``error_type`` ``JobInterruptedError``) unless it was submitted with
``retry_on_restart=True``, in which case it is queued again in its original place.

``stop()`` stops dispatching, lets running jobs finish for up to ``timeout`` seconds, then
cancels the rest through the same escalation; pending jobs stay journaled for the next start.

All state changes happen synchronously on the event loop's thread (no await in the middle of
one), which is what makes them atomic: the queue needs no lock.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from cjm_docker.errors import (
    JobInterruptedError,
    JobWaitTimeoutError,
    JournalError,
    QueueError,
    UnknownJobError,
)
from cjm_docker.queue.events import TERMINAL_KIND, EventHub, EventKind, JobEvent
from cjm_docker.queue.job import Job, JobStatus, new_job_id
from cjm_docker.queue.journal import JobJournal
from cjm_docker.queue.manager_port import PluginRunner
from cjm_docker.queue.pending import PendingJobs
from cjm_docker.queue.runner import JobRun, RunSettings

log = logging.getLogger(__name__)

JOURNAL_NAME = "jobs.sqlite3"
#: Finished jobs the journal keeps when ``journal_history`` is not given.
DEFAULT_JOURNAL_HISTORY = 1000
#: Entries of ``get_state()["history"]`` (as in 0.0.x).
STATE_HISTORY = 20

INTERRUPTED = ("Interrupted: the host stopped while this job ran. It was not run again because "
               "its plugin may not be safe to repeat; resubmit it, or submit with "
               "retry_on_restart=True.")
NOT_RESUMABLE = ("Not resumed after a host restart: its arguments could not be journaled or "
                 "read back ({detail}); resubmit it.")


class QueueState(str, Enum):
    """Lifecycle of a JobQueue."""

    IDLE = "idle"          # constructed (journal open, jobs recovered); accepts submits
    RUNNING = "running"    # dispatching jobs
    STOPPING = "stopping"  # no new dispatch; running jobs finish or are cancelled
    STOPPED = "stopped"    # journal closed; start() opens it again


@dataclass(eq=False)
class _Tracked:
    """A job plus what only the queue needs."""

    job: Job
    done: asyncio.Event = field(default_factory=asyncio.Event)
    run: JobRun | None = None
    logs: str | None = None
    finished: bool = False  # terminal and journaled; waiters released


class JobQueue:
    """Runs plugin jobs through a PluginManager, in order, durably.

    Args:
        manager: the PluginManager whose plugins run the jobs.
        max_history: finished jobs kept in memory (``get_state``, ``get_job``); older ones are
            read back from the journal.
        cancel_timeout: seconds a plugin gets to stop after a cancel before its container is
            replaced.
        progress_poll_interval: seconds between /progress polls of a running job (0: none).
            The default is 0.25 (0.0.x: 1.0); a poll costs about a millisecond.
        journal_path: the SQLite journal (default ``<manager.config.data_dir>/jobs.sqlite3``).
        journal_history: finished jobs kept on disk (default ``max(max_history, 1000)``), so
            results outlive the in-memory history and the file stays bounded.
        max_concurrent_plugins: plugins running a job at once (None: no limit).
        event_buffer: events buffered per subscriber before the oldest are dropped.
    """

    def __init__(self, manager: PluginRunner, max_history: int = 100, cancel_timeout: float = 3.0,
                 progress_poll_interval: float = 0.25, *,
                 journal_path: str | Path | None = None,
                 journal_history: int | None = None,
                 max_concurrent_plugins: int | None = None, event_buffer: int = 100):
        if max_concurrent_plugins is not None and max_concurrent_plugins < 1:
            raise ValueError("max_concurrent_plugins must be None or at least 1")
        self.manager = manager
        self.max_history = max(0, max_history)
        self.cancel_timeout = cancel_timeout
        self.progress_poll_interval = progress_poll_interval
        self.max_concurrent_plugins = max_concurrent_plugins
        self.journal_path = Path(journal_path) if journal_path is not None \
            else self._default_journal_path(manager)
        self.journal_history = max(self.max_history, DEFAULT_JOURNAL_HISTORY) \
            if journal_history is None else max(0, journal_history)
        self._settings = RunSettings(cancel_timeout, progress_poll_interval)
        self._state = QueueState.IDLE
        self._tracked: dict[str, _Tracked] = {}
        self._pending = PendingJobs()
        self._lanes: dict[str, _Tracked] = {}   # plugin -> its running job
        self._history: deque[_Tracked] = deque()
        self._tasks: set[asyncio.Task] = set()
        self._hub = EventHub(event_buffer)
        self._journal = self._open_journal()
        self._sequence = self._journal.max_sequence()
        self._recover()

    @staticmethod
    def _default_journal_path(manager: PluginRunner) -> Path:
        return Path(manager.config.data_dir) / JOURNAL_NAME

    def _open_journal(self) -> JobJournal:
        return JobJournal(self.journal_path, history_limit=self.journal_history)

    # -- recovery -------------------------------------------------------------------------------

    def _recover(self) -> None:
        """Load what a previous host left: pending jobs to run, recent results to read."""
        journal = self._journal
        for job in journal.recent_finished(self.max_history):
            self._history.append(_Tracked(job, finished=True))
            self._tracked[job.id] = self._history[-1]
        resumed = interrupted = 0
        for job, problem in journal.unfinished():
            tracked = _Tracked(job)
            if problem is not None:
                self._fail_now(tracked, NOT_RESUMABLE.format(detail=problem), "QueueError")
            elif job.status is JobStatus.RUNNING and not job.retry_on_restart:
                self._fail_now(tracked, INTERRUPTED, JobInterruptedError.__name__)
                interrupted += 1
            else:
                if job.status is JobStatus.RUNNING:
                    job.move_to(JobStatus.PENDING)
                    job.started_at = None
                    journal.requeue(job)  # committed before anything else is
                self._tracked[job.id] = tracked
                self._pending.push(job)
                resumed += 1
        if resumed or interrupted:
            log.info("Job journal %s: %d job(s) resumed, %d interrupted", self.journal_path,
                     resumed, interrupted)
        self._trim_history()

    def _fail_now(self, tracked: _Tracked, error: str, error_type: str) -> None:
        job = tracked.job
        job.move_to(JobStatus.FAILED)
        job.error, job.error_type, job.completed_at = error, error_type, time.time()
        self._journal.finish(job, wait=False)
        tracked.finished = True
        self._tracked[job.id] = tracked
        self._history.append(tracked)

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def state(self) -> QueueState:
        return self._state

    async def start(self) -> None:
        """Start dispatching (idempotent); reopens the journal after a stop."""
        if self._state is QueueState.RUNNING:
            return
        if self._state is QueueState.STOPPING:
            raise QueueError("The queue is stopping; await stop() before starting it again.")
        if self._state is QueueState.STOPPED:
            self._journal = self._open_journal()
        self._state = QueueState.RUNNING
        self._dispatch()

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop dispatching; running jobs get ``timeout`` s, then are cancelled (escalating).

        Pending jobs stay in the journal and run when a queue on it starts again.
        """
        if self._state in (QueueState.STOPPED, QueueState.STOPPING):
            return
        self._state = QueueState.STOPPING
        try:
            running = [t for t in self._tasks if not t.done()]
            if running:
                await asyncio.wait(running, timeout=timeout)
            for tracked in list(self._lanes.values()):
                if tracked.run is not None:
                    tracked.run.request_cancel("cancelled by JobQueue.stop()")
            while self._tasks:
                await asyncio.wait(list(self._tasks))
            self._journal.flush()  # the last terminal writes, releasing their waiters
            await asyncio.to_thread(self._journal.close)  # checkpoint + fsync: off the loop
        finally:
            self._state = QueueState.STOPPED

    async def __aenter__(self) -> JobQueue:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _writable_journal(self) -> JobJournal:
        if self._state is QueueState.STOPPED:
            self._journal = self._open_journal()
            self._state = QueueState.IDLE
        if self._journal.failure is not None:
            raise self._journal.failure
        return self._journal

    # -- submit / cancel / reorder --------------------------------------------------------------

    async def submit(self, plugin_name: str, *args: Any, priority: int = 0,
                     retry_on_restart: bool = False, **kwargs: Any) -> str:
        """Queue ``execute(*args, **kwargs)`` of ``plugin_name``; returns the job id once journaled.

        ``priority`` (higher runs first) and ``retry_on_restart`` are the queue's own keywords
        and never reach the plugin.

        Raises:
            JournalError: the journal cannot record the job (it is not queued).
        """
        journal = self._writable_journal()
        # One lane per plugin whichever of its names the caller used.
        meta = self.manager.get_plugin_meta(plugin_name)
        plugin_name = meta.name if meta is not None else plugin_name
        self._sequence += 1
        job = Job(id=new_job_id(), plugin_name=plugin_name, args=args, kwargs=kwargs,
                  priority=priority, sequence=self._sequence, retry_on_restart=retry_on_restart)
        tracked = _Tracked(job)
        self._tracked[job.id] = tracked
        try:
            committed = journal.insert(job)
            if committed is not None:  # None only outside a loop, where it committed at once
                await committed
        except BaseException:
            self._tracked.pop(job.id, None)
            raise
        if job.status is JobStatus.PENDING:  # not cancelled while it was being journaled
            self._pending.push(job)
            self._publish(job, EventKind.SUBMITTED)
            log.debug("Submitted job %s for %s (priority=%d)", job.id[:8], plugin_name, priority)
            self._dispatch()
        return job.id

    async def cancel(self, job_id: str) -> bool:
        """Cancel a pending job at once, or start cancelling a running one.

        Returns False for unknown and finished jobs. A running job ends CANCELLED within
        ``cancel_timeout`` plus, when the plugin ignores the cancel, a container restart.
        """
        tracked = self._tracked.get(job_id)
        if tracked is None:
            return False
        job = tracked.job
        if job.status is JobStatus.PENDING:
            self._pending.remove(job)
            job.move_to(JobStatus.CANCELLED)
            job.status_message = "cancelled while pending"
            job.completed_at = time.time()
            self._finish(tracked)
            return True
        if job.status is JobStatus.RUNNING and tracked.run is not None:
            if tracked.run.cancel_requested:
                return True
            if tracked.run.request_cancel():
                self._publish(job, EventKind.CANCEL_REQUESTED)
                return True
        return False

    def reorder(self, job_id: str, new_priority: int) -> bool:
        """Give a pending job a new priority (it keeps its submission order among equals)."""
        tracked = self._tracked.get(job_id)
        if tracked is None or tracked.job.status is not JobStatus.PENDING:
            return False
        job = tracked.job
        if not self._pending.reprioritize(job, new_priority):
            job.priority = new_priority  # still being journaled; queued with its new priority
        try:
            self._journal.set_priority(job)
        except JournalError as exc:
            log.error("Reorder of job %s not journaled: %s", job_id[:8], exc)
        self._publish(job, EventKind.REORDERED)
        self._dispatch()
        return True

    # -- dispatch -------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        """Start the best pending job of every idle lane, up to the concurrency limit."""
        if self._state is not QueueState.RUNNING:
            return
        limit = self.max_concurrent_plugins
        while limit is None or len(self._lanes) < limit:
            job = self._pending.pop_best(lambda plugin: plugin not in self._lanes)
            if job is None:
                return
            self._launch(self._tracked[job.id])

    def _launch(self, tracked: _Tracked) -> None:
        job = tracked.job
        job.move_to(JobStatus.RUNNING)
        job.started_at = time.time()
        job.attempts += 1
        tracked.run = JobRun(job, self.manager, self._settings,
                             functools.partial(self._publish, job))
        self._lanes[job.plugin_name] = tracked  # reserved now, before any await
        try:  # queued now, so it shares a commit with the previous job's result
            journaled: asyncio.Future | JournalError | None = self._journal.mark_running(job)
        except JournalError as exc:
            journaled = exc
        self._publish(job, EventKind.STARTED)
        task = asyncio.get_running_loop().create_task(self._run(tracked, journaled))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, tracked: _Tracked,
                   journaled: asyncio.Future | JournalError | None) -> None:
        job, run = tracked.job, tracked.run
        assert run is not None
        try:
            try:
                if isinstance(journaled, JournalError):
                    raise journaled
                if journaled is not None:
                    await journaled  # durable before the call is sent
            except JournalError as exc:
                job.error, job.error_type = f"Not run: {exc}", type(exc).__name__
                job.move_to(JobStatus.FAILED)
                return
            await run.run()
        except asyncio.CancelledError:
            if not job.status.is_terminal:
                job.move_to(JobStatus.CANCELLED)
                job.status_message = "cancelled: the queue's task was cancelled"
            raise
        except Exception as exc:  # noqa: BLE001 - a bug must still end the job, not hang it
            log.exception("Job %s: the queue failed while running it", job.id[:8])
            if not job.status.is_terminal:
                job.error, job.error_type = f"Queue error: {exc}", type(exc).__name__
                job.move_to(JobStatus.FAILED)
        finally:
            tracked.logs = run.logs
            job.completed_at = time.time()
            del self._lanes[job.plugin_name]
            self._finish(tracked)
            self._dispatch()

    def _finish(self, tracked: _Tracked) -> None:
        """Journal a terminal job; waiters and streams are released once it is committed."""
        self._history.append(tracked)
        try:
            future = self._journal.finish(tracked.job, tracked.logs)
        except JournalError as exc:
            log.error("Job %s: result not journaled: %s", tracked.job.id[:8], exc)
            self._released(tracked)
            return
        if future is None:  # committed at once (no running loop)
            self._released(tracked)
            return
        future.add_done_callback(lambda f: self._released(tracked, f))

    def _released(self, tracked: _Tracked, future: asyncio.Future | None = None) -> None:
        if future is not None and not future.cancelled() and future.exception() is not None:
            log.error("Job %s: result not journaled: %s", tracked.job.id[:8], future.exception())
        tracked.finished = True
        tracked.done.set()  # before it can leave the history (0.0.x lost waiters here)
        self._publish(tracked.job, TERMINAL_KIND[tracked.job.status])
        self._trim_history()

    def _trim_history(self) -> None:
        history = self._history
        while len(history) > self.max_history and history[0].finished:
            old = history.popleft()
            if self._tracked.get(old.job.id) is old:
                del self._tracked[old.job.id]

    # -- reading --------------------------------------------------------------------------------

    def get_job(self, job_id: str) -> Job | None:
        """The job (live object while in memory; read from the journal once evicted)."""
        tracked = self._tracked.get(job_id)
        if tracked is not None:
            return tracked.job
        return self._journal.get(job_id)

    async def wait_for_job(self, job_id: str, timeout: float | None = None) -> Job:
        """Wait until the job ends and return it; it never hangs on an evicted job.

        Raises:
            UnknownJobError: no such job in memory or in the journal (a ValueError).
            JobWaitTimeoutError: ``timeout`` passed first (a TimeoutError).
        """
        tracked = self._tracked.get(job_id)
        if tracked is None:
            job = self._fetch(job_id)
            if job is None:
                raise UnknownJobError(job_id)
            return job
        if not tracked.finished:
            try:
                await asyncio.wait_for(tracked.done.wait(), timeout)
            except asyncio.TimeoutError:
                raise JobWaitTimeoutError(job_id, timeout) from None
        return tracked.job

    def _fetch(self, job_id: str) -> Job | None:
        """A job from the journal, after every write queued so far."""
        if not self._journal.closed:
            self._journal.flush()  # writes queued this iteration first
        return self._journal.get(job_id)

    async def events(self, job_id: str) -> AsyncIterator[JobEvent]:
        """Stream the job's events until it ends: ``async for event in queue.events(id)``.

        The first event is the job's state right now (``SNAPSHOT``, or its terminal event if it
        has already ended); the last is always terminal.

        Raises:
            UnknownJobError: no such job in memory or in the journal.
        """
        tracked = self._tracked.get(job_id)
        if tracked is None:
            job = self._fetch(job_id)
            if job is None:
                raise UnknownJobError(job_id)
            yield JobEvent.of(job, TERMINAL_KIND.get(job.status, EventKind.SNAPSHOT))
            return
        job = tracked.job
        if tracked.finished:
            yield JobEvent.of(job, TERMINAL_KIND[job.status])
            return
        subscription = self._hub.subscribe(job_id)
        try:
            yield JobEvent.of(job, EventKind.SNAPSHOT)
            while True:
                event = await subscription.get()
                yield event
                if event.is_terminal:
                    return
        finally:
            self._hub.unsubscribe(job_id, subscription)

    def _publish(self, job: Job, kind: EventKind) -> None:
        if self._hub.has_subscribers(job.id):
            self._hub.publish(JobEvent.of(job, kind))

    def get_job_logs(self, job_id: str, lines: int = 100) -> str:
        """The last ``lines`` lines this job's plugin logged while it ran ("" if unknown)."""
        tracked = self._tracked.get(job_id)
        if tracked is not None and tracked.run is not None and tracked.logs is None:
            text = tracked.run.logs_so_far()
        elif tracked is not None and tracked.logs is not None:
            text = tracked.logs
        else:
            text = self._journal.logs(job_id) or ""
        if lines <= 0:
            return ""
        tail = text.splitlines(keepends=True)[-lines:]
        return "".join(tail)

    def get_state(self) -> dict[str, Any]:
        """A snapshot for UIs, in 0.0.x's shape (plus ``running_jobs`` and ``total_running``).

        ``running`` is the longest-running job (0.0.x ran one at a time); ``running_jobs`` lists
        them all. Counts in ``stats`` cover the history kept in memory, as in 0.0.x.
        """
        running = sorted((t.job for t in self._lanes.values()),
                         key=lambda j: (j.started_at or 0.0, j.sequence))
        running_view = [{"id": j.id, "plugin_name": j.plugin_name, "status": j.status.value,
                         "started_at": j.started_at, "progress": j.progress,
                         "status_message": j.status_message} for j in running]
        pending = [{"id": j.id, "plugin_name": j.plugin_name, "priority": j.priority,
                    "position": i} for i, j in enumerate(self._pending.ordered())]
        recent = list(self._history)[-STATE_HISTORY:][::-1]
        history = [{"id": t.job.id, "plugin_name": t.job.plugin_name,
                    "status": t.job.status.value, "completed_at": t.job.completed_at,
                    "error": t.job.error} for t in recent]
        counts = {status: 0 for status in JobStatus}
        for t in self._history:
            counts[t.job.status] += 1
        return {
            "running": running_view[0] if running_view else None,
            "running_jobs": running_view,
            "pending": pending,
            "history": history,
            "stats": {"total_pending": len(pending),
                      "total_running": len(running_view),
                      "total_completed": counts[JobStatus.COMPLETED],
                      "total_failed": counts[JobStatus.FAILED],
                      "total_cancelled": counts[JobStatus.CANCELLED]},
        }
