"""One consistent reading of host, GPUs and plugin containers, and the 0.0.x stats dict.

``TelemetrySnapshot.to_stats()`` has the keys of cjm-plugin-system's system-monitor plugins
(``get_system_status``), so schedulers written for 0.0.x read it unchanged:
``memory_available_mb`` and ``gpu_free_memory_mb`` (the freest GPU) keep their meaning. With no
GPU the ``gpu_*_memory_mb`` keys are left out ("no GPU stats"), as a monitor without NVML did.
New keys: ``gpus`` (per GPU), ``plugins`` (what each given plugin's container holds) and
``gpu_source``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cjm_docker.telemetry.cgroup_stats import CgroupStatsSource
from cjm_docker.telemetry.cgroups import gpu_memory_by_container
from cjm_docker.telemetry.containers import ContainerStatsReader, StatsSource
from cjm_docker.telemetry.gpu import GpuInfo, GpuProcess, GpuProvider, detect_gpu_provider
from cjm_docker.telemetry.host import HostMonitor, HostStats


@dataclass(frozen=True)
class PluginUsage:
    """What one plugin's container holds right now."""

    memory_mb: float | None                                       # None: the engine did not say
    gpu_memory_mb: Mapping[int, float] = field(default_factory=dict)   # by GPU index


@dataclass(frozen=True)
class TelemetrySnapshot:
    """Host, GPUs and plugin containers, read together."""

    host: HostStats
    gpus: tuple[GpuInfo, ...] = ()
    gpu_source: str = "none"
    gpu_processes: tuple[GpuProcess, ...] = ()
    plugins: Mapping[str, PluginUsage] = field(default_factory=dict)

    def freest_gpu(self) -> GpuInfo | None:
        return max(self.gpus, key=lambda g: (g.memory_free_mb, -g.index), default=None)

    def to_stats(self) -> dict[str, Any]:
        """The stats dict of a 0.0.x system monitor, plus per-GPU and per-plugin details."""
        h = self.host
        stats: dict[str, Any] = {
            "cpu_percent": h.cpu_percent, "memory_used_mb": h.memory_used_mb,
            "memory_total_mb": h.memory_total_mb, "memory_available_mb": h.memory_available_mb,
            "gpu_type": "NVIDIA" if self.gpus else "None", "gpu_source": self.gpu_source,
        }
        freest = self.freest_gpu()
        if freest is not None:
            stats.update(
                gpu_free_memory_mb=freest.memory_free_mb,
                gpu_total_memory_mb=sum(g.memory_total_mb for g in self.gpus),
                gpu_used_memory_mb=sum(g.memory_used_mb for g in self.gpus),
                gpu_load_percent=max((g.utilization_percent or 0.0) for g in self.gpus))
        stats["details"] = {
            "available": bool(self.gpus), "type": stats["gpu_type"],
            "details": {f"gpu_{g.index}": {"name": g.name, "memory_total": g.memory_total_mb,
                                           "memory_used": g.memory_used_mb,
                                           "memory_free": g.memory_free_mb,
                                           "utilization": g.utilization_percent}
                        for g in self.gpus},
            "processes": [{"pid": p.pid, "gpu": p.gpu_index, "memory_used": p.used_memory_mb}
                          for p in self.gpu_processes],
        }
        stats["gpus"] = [{"index": g.index, "uuid": g.uuid, "name": g.name,
                          "memory_total_mb": g.memory_total_mb, "memory_used_mb": g.memory_used_mb,
                          "memory_free_mb": g.memory_free_mb,
                          "utilization_percent": g.utilization_percent,
                          "temperature_c": g.temperature_c} for g in self.gpus]
        stats["plugins"] = {name: {"memory_mb": u.memory_mb, "gpu_memory_mb": dict(u.gpu_memory_mb)}
                            for name, u in self.plugins.items()}
        return stats


class Telemetry:
    """Reads host, GPU and container figures; every source can be replaced.

    Args:
        engine: the Docker engine, for container figures where the cgroup files are not
            visible from here; None: no container figures.
        gpu: the GPU provider; by default the first of NVML, nvidia-smi that works (on first use).
        host: the host monitor (default: psutil).
        proc_root: where ``/proc`` is (to map GPU processes to containers).
        cgroup_root: where the cgroup hierarchy is mounted.
        stats_window: seconds between the two samples of a container's first CPU reading.
    """

    def __init__(self, engine: StatsSource | None = None, *, gpu: GpuProvider | None = None,
                 host: HostMonitor | None = None, proc_root: Path = Path("/proc"),
                 cgroup_root: Path = Path("/sys/fs/cgroup"), stats_window: float = 0.25):
        self._gpu = gpu
        self._host = host
        self.proc_root = proc_root
        # Container figures from the cgroup files where visible (no wait), else the engine.
        source = CgroupStatsSource(engine, cgroup_root=cgroup_root, proc_root=proc_root)
        self.containers = ContainerStatsReader(source, window=stats_window) \
            if engine is not None else None

    @property
    def gpu(self) -> GpuProvider:
        if self._gpu is None:
            self._gpu = detect_gpu_provider()
        return self._gpu

    @property
    def host(self) -> HostMonitor:
        if self._host is None:
            self._host = HostMonitor()
        return self._host

    def gpus(self) -> list[GpuInfo]:
        return self.gpu.gpus()

    def gpu_memory_by_container(self) -> dict[str, dict[int, float]]:
        """``{container id: {gpu index: MiB}}`` of containers holding GPU memory."""
        return gpu_memory_by_container(self.gpu.processes(), self.proc_root)

    def snapshot(self, containers: Mapping[str, str] | None = None) -> TelemetrySnapshot:
        """Read everything once.

        Args:
            containers: ``{plugin name: container id}`` whose usage goes into ``plugins``
                (one engine call each, no wait).
        """
        gpus = tuple(self.gpu.gpus())
        processes = tuple(self.gpu.processes()) if gpus else ()
        plugins: dict[str, PluginUsage] = {}
        if containers:
            by_container = gpu_memory_by_container(processes, self.proc_root)
            for name, container_id in containers.items():
                stats = self.containers.read(container_id, cpu=False) \
                    if self.containers is not None else None
                plugins[name] = PluginUsage(stats.memory_usage_mb if stats else None,
                                            by_container.get(container_id, {}))
        return TelemetrySnapshot(self.host.read(), gpus, self.gpu.name, processes, plugins)

    async def snapshot_async(self, containers: Mapping[str, str] | None = None
                             ) -> TelemetrySnapshot:
        """``snapshot`` off the event loop (NVML and engine calls block)."""
        return await asyncio.to_thread(self.snapshot, containers)

    def stats(self, containers: Mapping[str, str] | None = None) -> dict[str, Any]:
        """``snapshot(containers).to_stats()``."""
        return self.snapshot(containers).to_stats()
