"""One running job: its execute call, its progress, its log lines, and a cancel that escalates.

Cancel is cooperative first (``proxy.cancel_async()``); if the execute call has not ended
``cancel_timeout`` seconds after the request, the call is dropped and the plugin's container is
killed and replaced (``manager.restart_plugin_async``, which works in a thread), so a plugin that
ignores cancel cannot hold its lane. Nothing here blocks the event loop: every wait is an await.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from cjm_docker.queue.events import EventKind
from cjm_docker.queue.job import Job, JobStatus
from cjm_docker.queue.manager_port import JobLogSource, PluginRunner

log = logging.getLogger(__name__)

#: A job's log slice larger than this is read in a thread rather than on the event loop.
_INLINE_LOG_BYTES = 256 * 1024
#: At most this much of a job's log is read back.
MAX_LOG_BYTES = 1 << 20


@dataclass(frozen=True)
class RunSettings:
    """How a job is run, shared by every job of a queue."""

    cancel_timeout: float = 3.0
    progress_poll_interval: float = 0.25  # 0 or less: no polling


def _qualname(exc: BaseException) -> str:
    return type(exc).__qualname__


class JobRun:
    """Runs one job through ``manager.execute_plugin_async`` and records how it ended.

    Args:
        job: the job; its status must already be RUNNING.
        manager: the ``PluginRunner`` (a PluginManager).
        settings: cancel timeout and progress interval.
        notify: called with an ``EventKind`` whenever the job changes in a way worth an event.
    """

    def __init__(self, job: Job, manager: PluginRunner, settings: RunSettings,
                 notify: Callable[[EventKind], None]):
        self.job = job
        self.manager = manager
        self.settings = settings
        self.notify = notify
        self.cancel_requested = False
        self.cancel_reason = "cancel requested"
        self.escalated = False
        self.restart_error: BaseException | None = None
        self.logs: str | None = None
        self._container: JobLogSource | None = None
        self._log_start: int | None = None
        self._exec: asyncio.Task | None = None
        self._canceller: asyncio.Task | None = None
        self._poller: asyncio.Task | None = None

    # -- running ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Execute the job and set its terminal status, result and error."""
        job = self.job
        if self.cancel_requested:  # cancelled before its call was sent
            self._end_cancelled()
            return
        proxy = self.manager.get_plugin(job.plugin_name)
        container = proxy.container if proxy is not None else None
        # Only a container this host started has a log file to slice (attach mode: none).
        self._container = container if isinstance(container, JobLogSource) else None
        self._log_start = self._log_position()
        loop = asyncio.get_running_loop()
        self._exec = loop.create_task(
            self.manager.execute_plugin_async(job.plugin_name, *job.args, **job.kwargs))
        # The first poll comes one interval in: a short job pays nothing for progress and
        # never shows the previous job's.
        interval = self.settings.progress_poll_interval
        timer = loop.call_later(interval, self._start_polling) if interval > 0 else None
        try:
            await self._exec
        except asyncio.CancelledError:
            if not self._dropped_by_escalation():
                raise  # our own task is being cancelled
        except Exception:  # noqa: BLE001 - read from the task below
            pass
        finally:
            if timer is not None:
                timer.cancel()
            if self._poller is not None:
                self._poller.cancel()
            if not self._exec.done():  # our own task was cancelled: drop the call too
                self._exec.cancel()
        if self._canceller is not None:
            await self._canceller  # the container is being replaced: wait, the lane needs it
        if self.logs is None:
            self.logs = await self._read_logs()
        if self.cancel_requested:
            if not self._exec.cancelled():
                self._exec.exception()  # retrieved: whatever it raised, the job was cancelled
            self._end_cancelled()
            return
        exc = self._exec.exception()
        if exc is None:
            job.result = self._exec.result()
            job.progress = 1.0
            job.move_to(JobStatus.COMPLETED)
        else:
            job.error = str(exc) or _qualname(exc)
            job.error_type = _qualname(exc)
            job.move_to(JobStatus.FAILED)

    def _end_cancelled(self) -> None:
        job = self.job
        job.move_to(JobStatus.CANCELLED)
        if self.escalated:
            job.status_message = (f"{self.cancel_reason}; the plugin did not stop within "
                                  f"{self.settings.cancel_timeout:g} s, its container was "
                                  "replaced")
        else:
            job.status_message = self.cancel_reason
        if self.restart_error is not None:
            job.error = f"Replacing the container failed: {self.restart_error}"
            job.error_type = _qualname(self.restart_error)

    def _dropped_by_escalation(self) -> bool:
        """True when the CancelledError came from the execute call we dropped, not our task."""
        task = asyncio.current_task()
        cancelling = getattr(task, "cancelling", None)  # Python 3.11+
        if cancelling is not None and cancelling():
            return False
        return self.escalated and self._exec is not None and self._exec.cancelled()

    def _start_polling(self) -> None:
        if self._exec is not None and not self._exec.done():
            self._poller = asyncio.get_running_loop().create_task(self._poll_progress())

    async def _poll_progress(self) -> None:
        """Poll the worker's /progress every interval while the job runs."""
        while True:
            await self._poll_once()
            await asyncio.sleep(self.settings.progress_poll_interval)

    async def _poll_once(self) -> None:
        job = self.job
        proxy = self.manager.get_plugin(job.plugin_name)
        if proxy is None:
            return
        try:
            info = await proxy.get_progress_async()
            progress = float(info.get("progress", 0.0))
        except Exception:  # noqa: BLE001 - progress is best effort; the execute call decides
            return
        message = str(info.get("message") or "")
        if (progress, message) != (job.progress, job.status_message):
            job.progress, job.status_message = progress, message
            self.notify(EventKind.PROGRESS)

    # -- logs ---------------------------------------------------------------------------------

    def _log_position(self) -> int | None:
        if self._container is None:
            return None
        try:
            return self._container.log_position()
        except Exception:  # noqa: BLE001 - logs are a convenience, never a failure
            return None

    def _read_slice(self, start: int, end: int | None) -> str:
        if self._container is None:
            return ""
        try:
            return self._container.read_log_since(start, end)
        except Exception:  # noqa: BLE001
            return ""

    async def _read_logs(self) -> str | None:
        """This job's lines: the worker's log between the job's start and now."""
        if self._container is None or self._log_start is None:
            return None
        end = self._log_position()
        if end is None or end == self._log_start:
            return ""
        start = max(self._log_start, end - MAX_LOG_BYTES)
        if end - start > _INLINE_LOG_BYTES:
            return await asyncio.to_thread(self._read_slice, start, end)
        return self._read_slice(start, end)

    def logs_so_far(self) -> str:
        """The lines logged since the job started (for a job still running)."""
        if self.logs is not None:
            return self.logs
        if self._container is None or self._log_start is None:
            return ""
        end = self._log_position() or 0
        return self._read_slice(max(self._log_start, end - MAX_LOG_BYTES), end)

    # -- cancel -------------------------------------------------------------------------------

    def request_cancel(self, reason: str = "cancel requested") -> bool:
        """Start cancelling (idempotent); the job ends CANCELLED whatever the plugin does.

        False when its call has already returned (the job is being recorded as it ended).
        """
        if self.cancel_requested:
            return True
        if self._exec is not None and self._exec.done():
            return False
        self.cancel_requested = True
        self.cancel_reason = reason
        if self._exec is not None and not self._exec.done():
            self._canceller = asyncio.create_task(self._escalate())
        return True

    async def _escalate(self) -> None:
        assert self._exec is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.cancel_timeout
        proxy = self.manager.get_plugin(self.job.plugin_name)
        if proxy is not None:
            try:
                await asyncio.wait_for(proxy.cancel_async(), max(0.0, deadline - loop.time()))
            except Exception as exc:  # noqa: BLE001 - a stuck control plane only means: escalate
                log.debug("Cooperative cancel of job %s failed: %r", self.job.id, exc)
        await asyncio.wait({self._exec}, timeout=max(0.0, deadline - loop.time()))
        if self._exec.done():
            return
        self.escalated = True
        self.notify(EventKind.ESCALATED)
        log.warning("Job %s: plugin %s ignored cancel for %.1f s; replacing its container",
                    self.job.id[:8], self.job.plugin_name, self.settings.cancel_timeout)
        self.logs = await self._read_logs()  # before the container and its log file go
        # Drop the call first, so the manager sees a cancelled call, not a crash, and never
        # kills the fresh container the restart is about to start.
        self._exec.cancel()
        await asyncio.wait({self._exec})
        started = time.perf_counter()
        try:
            await self.manager.restart_plugin_async(self.job.plugin_name)
        except Exception as exc:  # noqa: BLE001 - recorded on the job; the next job reports its own
            self.restart_error = exc
            log.error("Job %s: replacing the container of %s failed: %s", self.job.id[:8],
                      self.job.plugin_name, exc)
        else:
            log.info("Job %s: container of %s replaced in %.2f s", self.job.id[:8],
                     self.job.plugin_name, time.perf_counter() - started)
