"""``FakeGpuProvider``: made-up GPUs for the unit tests (the real providers need NVIDIA)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from cjm_docker.telemetry.gpu import GpuInfo, GpuProcess


class FakeGpuProvider:
    """Made-up GPUs for tests; change them with ``set_used`` and ``add_process``.

    Args:
        gpus: the GPUs, e.g. ``[FakeGpuProvider.gpu(0, total_mb=24000, used_mb=20000), ...]``.
        processes: GPU processes (pids of the fake ``/proc`` tree, if the test maps them).
    """

    name = "fake"

    def __init__(self, gpus: Iterable[GpuInfo] = (), processes: Iterable[GpuProcess] = ()):
        self._gpus = {g.index: g for g in gpus}
        self._processes = list(processes)
        self.last_error: str | None = None

    @staticmethod
    def gpu(index: int, *, total_mb: float, used_mb: float = 0.0, name: str = "Fake GPU",
            utilization: float = 0.0, temperature: float = 40.0) -> GpuInfo:
        """A GPU with a deterministic UUID ``GPU-fake-<index>``."""
        return GpuInfo(index, f"GPU-fake-{index}", name, total_mb, used_mb, total_mb - used_mb,
                       utilization, temperature)

    def set_used(self, index: int, used_mb: float) -> None:
        """Change how much of GPU ``index`` is in use."""
        g = self._gpus[index]
        self._gpus[index] = replace(g, memory_used_mb=used_mb,
                                    memory_free_mb=g.memory_total_mb - used_mb)

    def add_process(self, process: GpuProcess) -> None:
        self._processes.append(process)

    def available(self) -> bool:
        return bool(self._gpus)

    def gpus(self) -> list[GpuInfo]:
        return [self._gpus[i] for i in sorted(self._gpus)]

    def processes(self) -> list[GpuProcess]:
        return list(self._processes)
