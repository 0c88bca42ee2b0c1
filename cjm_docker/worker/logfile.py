"""A capped copy of the worker's output in a file the host can read after the container is gone.

Everything written to ``sys.stdout`` / ``sys.stderr`` at the Python level still goes to the
original streams (``docker logs``) and is also appended to the log file, flushed at each line
so a crash loses nothing. When the file passes its cap it moves to ``PATH.1`` and a new one
starts, so at most about twice the cap is kept. ``faulthandler`` writes there too, so a
segfault in a native extension leaves its traceback behind.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import sys
import threading
from typing import Any, BinaryIO, TextIO

DEFAULT_MAX_BYTES = 1 << 20


class CappedLog:
    """An append-only log file that rotates to ``PATH.1`` past ``max_bytes`` (thread-safe).

    Args:
        path: the log file; its folder is created if missing.
        max_bytes: the size at which it rotates.
    """

    def __init__(self, path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._file = self._open()
        self._faulthandler = False

    def _open(self) -> BinaryIO:
        handle = open(self.path, "ab")  # noqa: SIM115 - kept open for the process's life
        self._size = handle.tell()
        return handle

    def register_dump_signal(self, signum: int) -> None:
        """Dump every thread's stack into this file on ``signum`` (e.g. SIGUSR1)."""
        faulthandler.register(signum, file=self._file, all_threads=True)

    def write(self, text: str) -> None:
        """Append ``text``; flush when it ends a line; rotate when over the cap."""
        data = text.encode("utf-8", errors="backslashreplace")
        with self._lock:
            if self._file.closed:
                return
            self._file.write(data)
            self._size += len(data)
            if b"\n" in data:
                self._file.flush()
            if self._size >= self.max_bytes:
                self._rotate()

    def flush(self) -> None:
        """Flush buffered text to the file."""
        with self._lock:
            if not self._file.closed:
                self._file.flush()

    def fileno(self) -> int:
        """The current file's descriptor."""
        return self._file.fileno()

    def enable_faulthandler(self) -> None:
        """Send fatal-error tracebacks (segfaults, aborts) of all threads to this file."""
        self._faulthandler = True
        faulthandler.enable(file=self._file, all_threads=True)

    def close(self) -> None:
        """Flush and close (faulthandler goes back to stderr)."""
        with self._lock:
            if self._faulthandler:
                faulthandler.enable(file=sys.__stderr__ or sys.stderr, all_threads=True)
            self._file.close()

    def _rotate(self) -> None:
        # The new file takes over the old descriptor number (dup2) instead of getting a new
        # one: faulthandler keeps the descriptor it was given, and it must never end up
        # pointing at a closed - or worse, reused - descriptor.
        self._file.flush()
        os.replace(self.path, self.path + ".1")
        fresh = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.dup2(fresh, self._file.fileno())
        finally:
            os.close(fresh)
        self._size = 0


class Tee:
    """A text stream that writes to ``primary`` and copies everything into ``log``."""

    def __init__(self, primary: TextIO, log: CappedLog) -> None:
        self._primary = primary
        self._log = log

    def write(self, text: str) -> int:
        """Write to both; a broken primary (closed pipe) does not stop the log copy."""
        try:
            written = self._primary.write(text)
        except (OSError, ValueError):
            written = len(text)
        self._log.write(text)
        return written

    def flush(self) -> None:
        """Flush both."""
        with contextlib.suppress(OSError, ValueError):
            self._primary.flush()
        self._log.flush()

    def __getattr__(self, name: str) -> Any:
        # fileno, isatty, encoding, buffer...: the primary stream's.
        return getattr(self._primary, name)


def install(path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> CappedLog:
    """Tee ``sys.stdout`` and ``sys.stderr`` into a capped log file and point faulthandler at it.

    Call it before anything captures ``sys.stderr`` (uvicorn's and logging's handlers do so
    when they are configured).
    """
    log = CappedLog(path, max_bytes)
    sys.stdout = Tee(sys.stdout, log)  # type: ignore[assignment]
    sys.stderr = Tee(sys.stderr, log)  # type: ignore[assignment]
    log.enable_faulthandler()
    return log
