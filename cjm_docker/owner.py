"""Who owns a container: a host process or an install, identified so a dead owner can be told
from a live one (workers and build helpers carry these labels; `cjm-ctl gc` reads them).

A pid alone can be reused; the pid plus the process start time cannot (in practice).
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from functools import lru_cache

import psutil

from cjm_docker import labels


@dataclass(frozen=True)
class Owner:
    """A host process that starts containers."""

    host: str
    pid: int
    started: str   # psutil create_time, as text with fixed precision

    def labels(self) -> dict[str, str]:
        return {labels.OWNER_HOST: self.host, labels.OWNER_PID: str(self.pid),
                labels.OWNER_STARTED: self.started}


def _start_time(pid: int) -> str | None:
    try:
        return f"{psutil.Process(pid).create_time():.2f}"
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


@lru_cache(maxsize=1)
def _current(pid: int) -> Owner:
    return Owner(host=socket.gethostname(), pid=pid, started=_start_time(pid) or "0")


def current_owner() -> Owner:
    """This process (recomputed after a fork)."""
    return _current(os.getpid())


def new_session_id() -> str:
    """A short id for one PluginManager's containers."""
    return uuid.uuid4().hex[:8]


def owner_alive(container_labels: dict[str, str]) -> bool | None:
    """Whether the process that owns a container still runs.

    Returns:
        True or False for containers of this machine; None when the owner is on another
        machine (or the labels are missing), which cannot be checked from here.
    """
    host = container_labels.get(labels.OWNER_HOST)
    pid = container_labels.get(labels.OWNER_PID)
    if not host or not pid or host != socket.gethostname():
        return None
    try:
        started = _start_time(int(pid))
    except ValueError:
        return False
    if started is None:
        return False
    return started == container_labels.get(labels.OWNER_STARTED)
