"""GPU telemetry: what each NVIDIA GPU holds, through a provider that tests can replace.

Providers, tried in this order by ``detect_gpu_provider``:

- ``NvmlProvider`` (``cjm_docker.telemetry.nvml``): NVML through nvidia-ml-py, no subprocess;
- ``NvidiaSmiProvider`` (``cjm_docker.telemetry.nvidia_smi``): parses ``nvidia-smi`` CSV output,
  for hosts where the NVML library cannot be loaded by Python;
- ``NoGpuProvider``: no GPU.

The unit tests feed made-up GPUs to the same code (``tests/fakes/gpu.py``). Providers
never raise: a failing query answers "no GPUs" and keeps the reason in ``last_error``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class GpuInfo:
    """One GPU right now (memory in MiB, as NVML and nvidia-smi report it)."""

    index: int
    uuid: str
    name: str
    memory_total_mb: float
    memory_used_mb: float
    memory_free_mb: float
    utilization_percent: float | None = None   # None: the device does not report it
    temperature_c: float | None = None

    @property
    def device_id(self) -> str:
        """The id handed to the NVIDIA runtime: the UUID (stable), else the index."""
        return self.uuid or str(self.index)


@dataclass(frozen=True)
class MigDevice:
    """A MIG instance carved out of GPU ``parent_index`` (NVML: a MIG device handle)."""

    parent_index: int
    mig_index: int          # its slot on the parent (``0:1`` is GPU 0's MIG device 1)
    uuid: str               # MIG-<uuid>: what the runtime and CDI accept
    name: str = ""
    memory_total_mb: float = 0.0


@dataclass(frozen=True)
class GpuProcess:
    """A process holding memory on a GPU (``pid`` in the host's PID namespace)."""

    pid: int
    gpu_index: int
    gpu_uuid: str
    used_memory_mb: float | None = None   # None: the driver does not say (e.g. some vGPUs)


@runtime_checkable
class GpuProvider(Protocol):
    """Where GPU figures come from."""

    name: str                      # "nvml", "nvidia-smi", "none", "fake"
    last_error: str | None         # why the last query found no GPU, when it failed

    def available(self) -> bool:
        """True when the provider can query at least one GPU."""

    def gpus(self) -> list[GpuInfo]:
        """Every GPU, by index; [] when none (or the query failed)."""

    def processes(self) -> list[GpuProcess]:
        """Every compute process on any GPU; [] when none (or unknown)."""


class NoGpuProvider:
    """A machine without GPUs (or where no provider works)."""

    name = "none"

    def __init__(self, reason: str | None = None):
        self.last_error = reason

    def available(self) -> bool:
        return False

    def gpus(self) -> list[GpuInfo]:
        return []

    def processes(self) -> list[GpuProcess]:
        return []


def detect_gpu_provider(
        candidates: Iterable[Callable[[], GpuProvider]] | None = None) -> GpuProvider:
    """The first provider that can see a GPU: NVML, then nvidia-smi, else ``NoGpuProvider``.

    Args:
        candidates: provider factories to try instead of NVML and nvidia-smi (tests).
    """
    if candidates is None:
        from cjm_docker.telemetry.nvidia_smi import NvidiaSmiProvider
        from cjm_docker.telemetry.nvml import NvmlProvider

        candidates = (NvmlProvider, NvidiaSmiProvider)
    reasons = []
    for factory in candidates:
        provider = factory()
        if provider.available():
            return provider
        reasons.append(f"{provider.name}: {provider.last_error or 'no GPU'}")
    return NoGpuProvider("; ".join(reasons) or None)
