"""The one thread every plugin call runs on.

Plugins are usually not thread-safe (and some libraries bind state to the thread that created
it), so the plugin is instantiated, called and cleaned up on this single thread, in order. The
event loop only ever waits on futures, which keeps /health, /progress and /cancel responsive
while a call runs.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

_STOP = object()


class PluginThread:
    """A daemon thread that runs submitted functions one at a time, in submission order.

    A daemon, so that an ``execute`` stuck forever cannot keep the process alive at exit.
    """

    def __init__(self, name: str = "cjm-plugin") -> None:
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._pending = 0
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Queue ``fn(*args)``; the future holds its result or exception."""
        future: Future[T] = Future()
        with self._changed:
            self._pending += 1
        self._jobs.put((future, fn, args))
        return future

    @property
    def idle(self) -> bool:
        """True when nothing runs or waits."""
        return self._pending == 0

    @property
    def ident(self) -> int | None:
        """The thread's identifier."""
        return self._thread.ident

    def wait_idle(self, timeout: float | None) -> bool:
        """Wait until nothing runs or waits; return False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self._pending == 0, timeout)

    def stop(self) -> None:
        """Let the thread end once the queued work is done (tests create many hosts)."""
        self._jobs.put(_STOP)

    def _serve(self) -> None:
        while True:
            job = self._jobs.get()
            if job is _STOP:
                return
            future, fn, args = job
            try:
                if future.set_running_or_notify_cancel():
                    try:
                        result = fn(*args)
                    except BaseException as exc:  # the caller decides what each one means
                        future.set_exception(exc)
                    else:
                        future.set_result(result)
            finally:
                with self._changed:
                    self._pending -= 1
                    self._changed.notify_all()


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
