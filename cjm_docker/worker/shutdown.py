"""Shutdown on SIGTERM, SIGINT or lease expiry: plugin cleanup within a grace period, then exit.

The process always exits by ``os._exit``: a graceful server shutdown would wait for an in-flight
``execute`` that may never return, and interpreter exit would try to join its thread. Three
deadlines make the exit certain:

1. the normal path: cleanup finishes (or is skipped), the process exits 0;
2. a timer thread exits 0 when the grace period is over, whatever cleanup is doing;
3. ``faulthandler.dump_traceback_later`` exits 1 a second after that from C, with every
   thread's stack in the log, in case a native call holds the GIL and no Python thread can run.
"""

from __future__ import annotations

import contextlib
import faulthandler
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)

EXIT_OK = 0


class _Stoppable(Protocol):
    def shutdown(self, timeout: float) -> bool: ...


class Shutdown:
    """Runs the shutdown sequence once, from whichever trigger comes first.

    Args:
        host: the plugin host (its ``shutdown(timeout)`` does cancel and cleanup).
        grace: seconds allowed for cleanup before the hard exit.
        exit: how to end the process (``os._exit``; injectable for tests).
        on_exit: called just before exiting (remove the socket file, flush the log).
        traceback_file: where the last-resort watchdog writes thread stacks.
        watchdog: arm the faulthandler watchdog (off in tests: it ends the process).
    """

    def __init__(self, host: _Stoppable, grace: float, *,
                 exit: Callable[[int], Any] = os._exit,
                 on_exit: Callable[[], None] | None = None,
                 traceback_file: Any = None, watchdog: bool = True) -> None:
        self.grace = grace
        self._host = host
        self._exit = exit
        self._on_exit = on_exit
        self._traceback_file = traceback_file
        self._watchdog = watchdog
        self._lock = threading.Lock()
        self._began = False
        self._exited = False
        self.reason: str | None = None
        self.code = EXIT_OK

    @property
    def began(self) -> bool:
        """True once shutdown started."""
        return self._began

    def begin(self, reason: str, code: int = EXIT_OK) -> bool:
        """Start shutting down on a background thread; later calls do nothing.

        Args:
            reason: logged first.
            code: the exit status once cleanup is done (or its grace is over).

        Returns:
            True when this call started it.
        """
        with self._lock:
            if self._began:
                return False
            self._began = True
            self.reason = reason
            self.code = code
        if self._watchdog:
            with contextlib.suppress(ValueError, OSError, RuntimeError):
                faulthandler.dump_traceback_later(
                    self.grace + 1.0, exit=True,
                    file=self._traceback_file or sys.__stderr__ or sys.stderr)
        timer = threading.Timer(self.grace, self._grace_over)
        timer.daemon = True
        timer.start()
        threading.Thread(target=self._run, name="cjm-shutdown", daemon=True).start()
        return True

    def on_signal(self, signum: int) -> None:
        """Signal handler: the first signal starts shutdown, a second one exits at once."""
        name = signal.Signals(signum).name
        if not self.begin(f"received {name}; shutting down"):
            log.warning("received %s again; exiting without waiting for cleanup", name)
            self._finish(EXIT_OK)

    def _run(self) -> None:
        log.warning("%s", self.reason)
        log.info("running plugin cleanup (grace %g s)", self.grace)
        try:
            finished = self._host.shutdown(self.grace)
        except BaseException:
            log.exception("shutdown failed")
            finished = False
        if finished:
            self._finish(self.code)
        # Otherwise the grace timer ends it.

    def _grace_over(self) -> None:
        log.warning("cleanup did not finish within %g s; exiting anyway", self.grace)
        self._finish(self.code)

    def _finish(self, code: int) -> None:
        with self._lock:
            if self._exited:
                return
            self._exited = True
        if self._on_exit is not None:
            try:
                self._on_exit()
            except Exception:
                log.exception("exit hook failed")
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        self._exit(code)
