"""A fake machine for scheduling and telemetry unit tests: RAM, GPUs behind a fake NVML
(``pynvml`` stand-in for ``NvmlProvider``), a fake ``/proc`` mapping GPU processes to containers,
and an engine stand-in that serves stats documents. No Docker, no GPU."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from cjm_docker.metadata import PluginMeta
from cjm_docker.telemetry import HostMonitor, NvmlProvider, Telemetry

MIB = 1024 * 1024


class FakeNvmlError(Exception):
    """Stands in for ``pynvml.NVMLError``."""


@dataclass
class Box:
    """A fake container: what it holds."""

    id: str
    memory_mb: float
    gpu_mb: dict[int, float] = field(default_factory=dict)
    pid: int = 0
    limit_mb: float | None = None


class FakeMachine:
    """RAM and GPUs shared by fake containers; looks like psutil, pynvml and the engine."""

    NVML_TEMPERATURE_GPU = 0

    def __init__(self, proc_root: Path, *, ram_total_mb: float = 16000, ram_base_mb: float = 2000,
                 gpus: tuple[tuple[float, float], ...] = ((24000, 0), (24000, 0)),
                 runtimes: tuple[str, ...] = ("runc", "nvidia")):
        self.proc_root = proc_root
        self.ram_total_mb = ram_total_mb
        self.ram_base_mb = ram_base_mb
        self.gpu_total = [t for t, _ in gpus]
        self.gpu_base = [u for _, u in gpus]
        self.runtimes = runtimes
        self.boxes: dict[str, Box] = {}
        self.nvml_fails = False
        self._pids = itertools.count(40000)
        self._ids = itertools.count(1)

    # -- containers -----------------------------------------------------------------------
    def add(self, memory_mb: float, gpu_mb: dict[int, float] | None = None,
            limit_mb: float | None = None) -> Box:
        cid = f"{next(self._ids):064x}"
        box = Box(cid, memory_mb, dict(gpu_mb or {}), next(self._pids), limit_mb)
        (self.proc_root / str(box.pid)).mkdir(parents=True)
        (self.proc_root / str(box.pid) / "cgroup").write_text(f"0::/system.slice/docker-{cid}.scope\n")
        self.boxes[cid] = box
        return box

    def remove(self, cid: str) -> None:
        self.boxes.pop(cid, None)

    # -- psutil ---------------------------------------------------------------------------
    def cpu_percent(self, interval: Any = None) -> float:
        return 12.5

    def cpu_count(self) -> int:
        return 4

    def virtual_memory(self) -> Any:
        used = self.ram_base_mb + sum(b.memory_mb for b in self.boxes.values())
        return SimpleNamespace(total=self.ram_total_mb * MIB, used=used * MIB,
                               available=(self.ram_total_mb - used) * MIB)

    # -- engine ---------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        return {"Runtimes": {r: {"path": r} for r in self.runtimes}}

    def container_stats(self, cid: str) -> dict[str, Any] | None:
        box = self.boxes.get(cid)
        if box is None:
            return None
        usage = int(box.memory_mb * MIB)
        return {"id": cid, "pids_stats": {"current": 3},
                "cpu_stats": {"cpu_usage": {"total_usage": 10**9}, "system_cpu_usage": 10**12,
                              "online_cpus": 4},
                "precpu_stats": {"cpu_usage": {"total_usage": 0}},
                "memory_stats": {"usage": usage + 4 * MIB,
                                 "stats": {"total_inactive_file": 4 * MIB},
                                 "limit": int((box.limit_mb or self.ram_total_mb) * MIB)}}

    # -- pynvml ---------------------------------------------------------------------------
    NVMLError = FakeNvmlError

    def nvmlInit(self) -> None:
        if self.nvml_fails:
            raise FakeNvmlError("Driver Not Loaded")

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpu_total)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return index

    def _gpu_used(self, index: int) -> float:
        return self.gpu_base[index] + sum(b.gpu_mb.get(index, 0) for b in self.boxes.values())

    def nvmlDeviceGetMemoryInfo(self, h: int) -> Any:
        used = self._gpu_used(h)
        return SimpleNamespace(total=int(self.gpu_total[h] * MIB), used=int(used * MIB),
                               free=int((self.gpu_total[h] - used) * MIB))

    def nvmlDeviceGetUtilizationRates(self, h: int) -> Any:
        return SimpleNamespace(gpu=10 * (h + 1), memory=5)

    def nvmlDeviceGetTemperature(self, h: int, sensor: int) -> int:
        return 40 + h

    def nvmlDeviceGetUUID(self, h: int) -> str:
        return f"GPU-{h:08d}-fake"

    def nvmlDeviceGetName(self, h: int) -> bytes:
        return b"Fake A100"

    def nvmlDeviceGetComputeRunningProcesses(self, h: int) -> list[Any]:
        return [SimpleNamespace(pid=b.pid, usedGpuMemory=int(b.gpu_mb[h] * MIB))
                for b in self.boxes.values() if b.gpu_mb.get(h)]

    def nvmlDeviceGetGraphicsRunningProcesses(self, h: int) -> list[Any]:
        return []

    def nvmlSystemGetDriverVersion(self) -> str:
        return "550.00"

    # -- telemetry over all of it ---------------------------------------------------------
    def telemetry(self) -> Telemetry:
        return Telemetry(self, gpu=NvmlProvider(nvml=self), host=HostMonitor(self),
                         proc_root=self.proc_root, cgroup_root=self.proc_root / "no-cgroup",
                         stats_window=0.0)


class FakeContainer:
    def __init__(self, box: Box):
        self.id = box.id


class FakeProxy:
    """A loaded plugin whose container is a ``Box`` of the fake machine."""

    def __init__(self, machine: FakeMachine, box: Box):
        self.machine = machine
        self.box = box
        self.container = FakeContainer(box)
        self.cleaned = False
        self.calls = 0

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return {"ok": True}

    async def execute_async(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return {"ok": True}

    def get_stats(self) -> dict[str, Any]:
        return {"pid": 7, "cpu_percent": 1.0, "memory_rss_mb": self.box.memory_mb, "busy": False}

    def cleanup(self) -> None:
        self.cleaned = True
        self.machine.remove(self.box.id)

    def kill(self) -> None:
        self.cleanup()


def manifest(name: str, *, ram_mb: float = 0, vram_mb: float = 0, gpu: bool = False,
             allow_cpu_fallback: bool = False, count: int = 1,
             env: dict[str, str] | None = None) -> dict[str, Any]:
    """A manifest dict as on disk, with both the 0.0.x and the cjm-docker resource keys."""
    resources: dict[str, Any] = {}
    if ram_mb:
        resources["min_system_ram_mb"] = ram_mb
    if gpu:
        resources["requires_gpu"] = True
        resources["min_gpu_vram_mb"] = vram_mb
    runtime: dict[str, Any] = {"resources": {}, "env": dict(env or {})}
    if gpu:
        runtime["resources"]["gpu"] = {"count": count, "min_memory_mb": vram_mb,
                                       "allow_cpu_fallback": allow_cpu_fallback}
    return {"name": name, "version": "1.0.0", "module": f"{name}_mod", "class": "Plugin",
            "image": f"cjm-plugin/{name}:test", "resources": resources, "runtime": runtime}


def meta(name: str, **kwargs: Any) -> PluginMeta:
    return PluginMeta(name=name, version="1.0.0", manifest=manifest(name, **kwargs))


def loaded(manager: Any, machine: FakeMachine, name: str, *, memory_mb: float,
           gpu_mb: dict[int, float] | None = None, last_executed: float = 0.0,
           **kwargs: Any) -> PluginMeta:
    """Put a fake loaded plugin into ``manager`` (its container holds the given memory)."""
    m = meta(name, **kwargs)
    m.instance = FakeProxy(machine, machine.add(memory_mb, gpu_mb))
    m.last_executed = last_executed
    manager.plugins[name] = m
    return m
