"""Process telemetry for /stats: CPU and memory of the worker and every process it started.

CPU percent is the CPU time the whole process tree used between two samples, divided by the wall
time between them (100 = one core). The first sample is taken when the sampler is created, so the
first /stats already reports a real figure, not psutil's first-call 0.0.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

try:
    import psutil
except ImportError:  # psutil is optional in plugin images
    psutil = None

_MIB = 1024 * 1024


class ProcessStats:
    """Samples this process and its descendants."""

    def __init__(self) -> None:
        self._process = psutil.Process() if psutil is not None else None
        self._lock = threading.Lock()
        self._last = (time.monotonic(), self._tree_cpu_seconds())

    def snapshot(self, busy: bool) -> dict[str, Any]:
        """The /stats body."""
        if self._process is None:
            return {"pid": os.getpid(), "cpu_percent": 0.0, "memory_rss_mb": _proc_rss_mb(),
                    "num_threads": threading.active_count(), "busy": busy}
        processes = self._tree()
        rss = 0
        for process in processes:
            try:
                rss += process.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue  # a child that exited or is not ours to read
        try:
            threads = self._process.num_threads()
        except psutil.Error:
            threads = threading.active_count()
        return {"pid": self._process.pid, "cpu_percent": self._cpu_percent(processes),
                "memory_rss_mb": rss / _MIB, "num_threads": threads, "busy": busy}

    def _tree(self) -> list[Any]:
        process = self._process
        if process is None:  # no psutil in this image
            return []
        try:
            return [process, *process.children(recursive=True)]
        except psutil.Error:
            return [process]

    def _tree_cpu_seconds(self, processes: list[Any] | None = None) -> float:
        if self._process is None:
            return 0.0
        total = 0.0
        for process in processes if processes is not None else self._tree():
            try:
                times = process.cpu_times()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            total += times.user + times.system
        return total

    def _cpu_percent(self, processes: list[Any]) -> float:
        now, cpu = time.monotonic(), self._tree_cpu_seconds(processes)
        with self._lock:
            then, cpu_then = self._last
            self._last = (now, cpu)
        elapsed = now - then
        if elapsed <= 0:
            return 0.0
        # A child that exited between samples takes its CPU time with it: never report < 0.
        return max(0.0, (cpu - cpu_then) / elapsed * 100.0)


def _proc_rss_mb() -> float:
    """RSS of this process from /proc (Linux), without psutil; 0.0 elsewhere."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024 / _MIB
    except OSError:
        pass
    return 0.0
