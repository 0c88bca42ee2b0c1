"""The host's side of the lease: a renewer process keeps each worker's lease file fresh.

A container cannot watch the host's pid, so the worker watches a file the host renews; the file
is read-only inside the container, so only the host can renew it. The renewing is done by
``cjm_docker.host.lease_renewer``, a process of its own started once per host process, so that
a host that computes for a minute holding the interpreter lock, or is suspended, does not get
its plugins killed. When the host dies its pipe to the renewer closes and the renewer stops the
host's containers (see that module).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from pathlib import Path


class LeaseKeeper:
    """Tells this process's renewer which runtime folders to renew, every ``interval`` s."""

    def __init__(self, interval: float):
        self.interval = interval
        self._lock = threading.Lock()
        self._renewer: subprocess.Popen[bytes] | None = None
        self._owner_pid = 0
        self._folders: dict[Path, str] = {}

    def _send(self, line: str) -> None:
        # Caller holds the lock. A renewer that died (killed by hand) is replaced, and told
        # every folder it must renew.
        renewer = self._renewer
        if renewer is None or renewer.poll() is not None or self._owner_pid != os.getpid():
            renewer = self._start()
            for folder, container_id in self._folders.items():
                self._write(renewer, f"add\t{container_id}\t{folder}")
        self._write(renewer, line)

    @staticmethod
    def _write(renewer: subprocess.Popen[bytes], line: str) -> None:
        assert renewer.stdin is not None
        with contextlib.suppress(OSError):
            renewer.stdin.write(line.encode() + b"\n")
            renewer.stdin.flush()

    def _start(self) -> subprocess.Popen[bytes]:
        # Its own session: a Ctrl-C or a signal to the host's process group leaves it running
        # until it has stopped what the host leaves behind.
        self._renewer = subprocess.Popen(
            [sys.executable, "-m", "cjm_docker.host.lease_renewer", str(os.getpid()),
             str(self.interval)], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            start_new_session=True, close_fds=True)
        self._owner_pid = os.getpid()
        return self._renewer

    def add(self, folder: Path, container_id: str) -> None:
        """Start renewing ``folder``'s lease (renewed once at once, by this process)."""
        with contextlib.suppress(OSError):
            fd = os.open(folder / "lease", os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                os.utime(fd)
            finally:
                os.close(fd)
        with self._lock:
            self._folders[folder] = container_id
            self._send(f"add\t{container_id}\t{folder}")

    def discard(self, folder: Path) -> None:
        """Stop renewing ``folder``'s lease."""
        with self._lock:
            if self._folders.pop(folder, None) is not None and self._renewer is not None:
                self._write(self._renewer, f"drop\t{folder}")


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
