"""The host's side of the lease: it keeps touching each worker's lease file.

A container cannot watch the host's pid, so the worker watches a file the host renews; when the
host dies (even by SIGKILL) the renewals stop and every worker exits within its lease timeout.
One daemon thread serves all containers of the process.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path


class LeaseKeeper:
    """Renews lease files every ``interval`` seconds on a daemon thread."""

    def __init__(self, interval: float):
        self.interval = interval
        self._paths: set[Path] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()

    def add(self, path: Path) -> None:
        """Start renewing ``path`` (renewed once at once)."""
        path.touch()
        with self._lock:
            self._paths.add(path)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="cjm-lease", daemon=True)
                self._thread.start()

    def discard(self, path: Path) -> None:
        """Stop renewing ``path``."""
        with self._lock:
            self._paths.discard(path)

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            with self._lock:
                paths = list(self._paths)
            for path in paths:
                try:
                    os.utime(path)
                except FileNotFoundError:
                    self.discard(path)
                except OSError:
                    pass


_keepers: dict[float, LeaseKeeper] = {}
_keepers_lock = threading.Lock()


def lease_keeper(lease_timeout: float) -> LeaseKeeper:
    """The process-wide keeper for a lease timeout (renewing five times per timeout)."""
    interval = max(0.2, min(2.0, lease_timeout / 5))
    with _keepers_lock:
        keeper = _keepers.get(interval)
        if keeper is None:
            keeper = _keepers[interval] = LeaseKeeper(interval)
        return keeper
