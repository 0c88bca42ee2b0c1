"""The host lease: a file the host keeps touching; when it goes stale, the worker exits.

A container cannot watch the host's PID, so liveness runs the other way: the host renews the
lease by touching the file in the bind-mounted runtime folder, and the worker shuts itself down
once the file is missing or older than the timeout (host killed, host machine asleep...).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable


class LeaseWatcher:
    """Checks a lease file's age on a daemon thread.

    Args:
        path: the lease file.
        timeout: seconds the file may go untouched.
        on_expire: called once, with a one-line reason, when the lease expires.
        clock: wall-clock time source, comparable with file mtimes (injectable for tests).
    """

    def __init__(self, path: str, timeout: float, on_expire: Callable[[str], object], *,
                 clock: Callable[[], float] = time.time) -> None:
        if timeout <= 0:
            raise ValueError(f"the lease timeout must be positive, not {timeout}")
        self.path = path
        self.timeout = timeout
        self.interval = min(1.0, timeout / 4)
        self._on_expire = on_expire
        self._clock = clock
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def age(self) -> float | None:
        """Seconds since the host last renewed the lease; None when the file is missing."""
        try:
            return self._clock() - os.stat(self.path).st_mtime
        except FileNotFoundError:
            return None

    def expired_reason(self) -> str | None:
        """Why the lease has expired, or None while it holds."""
        age = self.age()
        if age is None:
            return f"host lease expired after {self.timeout:g} s; shutting down (lease file " \
                   f"{self.path} is missing)"
        if age > self.timeout:
            return f"host lease expired after {age:.0f} s; shutting down"
        return None

    def start(self) -> None:
        """Start watching."""
        self._thread = threading.Thread(target=self._watch, name="cjm-lease", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (the thread ends within one interval)."""
        self._stopped.set()

    def _watch(self) -> None:
        while not self._stopped.wait(self.interval):
            try:
                reason = self.expired_reason()
            except OSError as exc:  # e.g. the runtime folder unmounted: as good as gone
                reason = f"host lease expired after {self.timeout:g} s; shutting down ({exc})"
            if reason is not None:
                self._on_expire(reason)  # the shutdown logs the reason
                return
