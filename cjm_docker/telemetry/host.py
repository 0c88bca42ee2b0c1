"""Host telemetry: CPU and memory of the machine the host library runs on (psutil)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MIB = 1024 * 1024


@dataclass(frozen=True)
class HostStats:
    """One reading of the host's CPU and memory (MB = MiB, as cjm-plugin-system's monitors)."""

    cpu_percent: float          # all cores together, 0-100, since the previous reading
    cpu_count: int
    memory_total_mb: float
    memory_available_mb: float  # what a new process can take without swapping
    memory_used_mb: float


class HostMonitor:
    """Reads ``HostStats`` through psutil.

    Args:
        psutil_module: the psutil module or a stand-in with ``cpu_percent``, ``cpu_count`` and
            ``virtual_memory`` (tests).
    """

    def __init__(self, psutil_module: Any | None = None):
        if psutil_module is None:
            import psutil

            psutil_module = psutil
        self._psutil: Any = psutil_module
        # psutil's non-blocking cpu_percent measures since its previous call; the first call
        # only sets the baseline, so make it here rather than report a meaningless 0.0 later.
        self._psutil.cpu_percent(interval=None)

    def read(self) -> HostStats:
        """The host's CPU (since the previous read) and memory right now; never blocks."""
        memory = self._psutil.virtual_memory()
        return HostStats(
            cpu_percent=float(self._psutil.cpu_percent(interval=None)),
            cpu_count=int(self._psutil.cpu_count() or 1),
            memory_total_mb=memory.total / MIB,
            memory_available_mb=memory.available / MIB,
            memory_used_mb=memory.used / MIB,
        )
