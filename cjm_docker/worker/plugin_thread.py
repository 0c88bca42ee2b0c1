"""The one thread every plugin call runs on.

Plugins are usually not thread-safe (and some libraries bind state to the thread that created
it), so the plugin is instantiated, called and cleaned up on this single thread, in order. The
event loop only ever waits on futures, which keeps /health, /progress and /cancel responsive
while a call runs.

The hand-off is the cost a warm call pays over running inline, so the loop side is kept to one
queue put, and the way back to one ring of the loop's ``Doorbell`` (a pipe the loop watches,
written without the interpreter lock held): no ``concurrent.futures.Future`` chained to an
asyncio one, no condition variable per call.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from cjm_docker.worker.doorbell import Doorbell

T = TypeVar("T")

_STOP = object()
_IDLE_POLL_S = 0.005


class PluginThread:
    """A daemon thread that runs submitted functions one at a time, in submission order.

    A daemon, so that an ``execute`` stuck forever cannot keep the process alive at exit.
    """

    def __init__(self, name: str = "cjm-plugin") -> None:
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        # Jobs queued or running; changed under the lock by submitters and by the thread.
        self._pending = 0
        self._count_lock = threading.Lock()
        self._bells: dict[asyncio.AbstractEventLoop, Doorbell] = {}  # one per loop that awaits
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Queue ``fn(*args)`` from any thread; the future holds its result or exception."""
        future: Future[T] = Future()

        def job() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                result = fn(*args)
            except BaseException as exc:  # the caller decides what each one means
                future.set_exception(exc)
            else:
                future.set_result(result)
        self._put(job)
        return future

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the thread and await its result, from the event loop.

        If the awaiting task is cancelled before ``fn`` starts, ``fn`` is skipped; once started
        it runs to its end (a plugin call cannot be interrupted from outside, only asked to
        stop).
        """
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[T] = loop.create_future()
        bell = self._bells.get(loop) or self._new_bell(loop)

        def job() -> None:
            if waiter.cancelled():  # a read from this thread: at worst the call runs unwaited
                return
            try:
                result = fn(*args)
            except BaseException as exc:
                bell.ring((waiter, None, exc))
            else:
                bell.ring((waiter, result, None))
        self._put(job)
        return await waiter

    def _new_bell(self, loop: asyncio.AbstractEventLoop) -> Doorbell:
        with self._count_lock:
            for old in [old for old in self._bells if old.is_closed()]:
                self._bells.pop(old).close()
            bell = self._bells[loop] = Doorbell(loop, _settle)
        return bell

    @property
    def idle(self) -> bool:
        """True when nothing runs or waits."""
        return self._pending == 0

    @property
    def ident(self) -> int | None:
        """The thread's identifier."""
        return self._thread.ident

    def wait_idle(self, timeout: float | None) -> bool:
        """Wait until nothing runs or waits; return False on timeout (shutdown only: polls)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._pending:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(_IDLE_POLL_S)
        return True

    def stop(self) -> None:
        """Let the thread end once the queued work is done (tests create many hosts)."""
        self._jobs.put(_STOP)

    def _put(self, job: Callable[[], None]) -> None:
        with self._count_lock:
            self._pending += 1
        self._jobs.put(job)

    def _serve(self) -> None:
        jobs, count_lock = self._jobs, self._count_lock
        while (job := jobs.get()) is not _STOP:
            try:
                job()
            finally:
                with count_lock:
                    self._pending -= 1
        self._close_bells()

    def _close_bells(self) -> None:
        """Every job has rung: close the bells (a live loop stops watching on its own thread)."""
        with self._count_lock:
            bells, self._bells = list(self._bells.values()), {}
        for bell in bells:
            try:
                bell.loop.call_soon_threadsafe(bell.close)
            except RuntimeError:  # the loop is closed: nothing watches the pipe any more
                bell.close()


def _settle(waiter: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    """On the loop: hand the outcome to the waiter unless it was cancelled meanwhile."""
    if waiter.cancelled():
        return
    if error is None:
        waiter.set_result(result)
    else:
        waiter.set_exception(error)


def run_aside(fn: Callable[[], T]) -> Future[T]:
    """Run ``fn`` on a short-lived daemon thread of its own.

    For calls that must not wait for the plugin thread (``cancel()`` while ``execute`` runs;
    ``cleanup()`` at exit when ``execute`` is stuck) and must not block the event loop either.
    """
    future: Future[T] = Future()
    future.set_running_or_notify_cancel()  # running from now: a waiter's timeout cannot cancel it

    def target() -> None:
        try:
            future.set_result(fn())
        except BaseException as exc:
            future.set_exception(exc)

    threading.Thread(target=target, name="cjm-aside", daemon=True).start()
    return future
