"""Telemetry: what the host, each plugin container and each NVIDIA GPU hold right now.

    host.py        HostMonitor -> HostStats (psutil)
    containers.py  ContainerStatsReader -> ContainerStats (engine stats, `docker stats` formulas)
    gpu.py         GpuProvider protocol, GpuInfo, MigDevice, GpuProcess, NoGpuProvider
    nvml.py        NvmlProvider (nvidia-ml-py, imported lazily)
    nvidia_smi.py  NvidiaSmiProvider (CSV output of nvidia-smi)
    cgroups.py     host PID -> container id, GPU memory per container
    cgroup_stats.py  CgroupStatsSource: a stats document from the cgroup files (no engine wait)
    snapshot.py    Telemetry (all sources, injectable) -> TelemetrySnapshot -> 0.0.x stats dict
"""

from cjm_docker.telemetry.cgroup_stats import CgroupStatsSource
from cjm_docker.telemetry.containers import ContainerStats, ContainerStatsReader
from cjm_docker.telemetry.gpu import (
    GpuInfo,
    GpuProcess,
    GpuProvider,
    MigDevice,
    NoGpuProvider,
    detect_gpu_provider,
)
from cjm_docker.telemetry.host import HostMonitor, HostStats
from cjm_docker.telemetry.nvidia_smi import NvidiaSmiProvider
from cjm_docker.telemetry.nvml import NvmlProvider
from cjm_docker.telemetry.snapshot import PluginUsage, Telemetry, TelemetrySnapshot

__all__ = [
    "CgroupStatsSource", "ContainerStats", "ContainerStatsReader", "GpuInfo", "GpuProcess",
    "GpuProvider", "HostMonitor", "HostStats", "MigDevice", "NoGpuProvider", "NvidiaSmiProvider",
    "NvmlProvider", "PluginUsage", "Telemetry", "TelemetrySnapshot", "detect_gpu_provider",
]
