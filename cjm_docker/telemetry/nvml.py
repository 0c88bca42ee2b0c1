"""``NvmlProvider``: GPU figures through NVML (the ``pynvml`` module of nvidia-ml-py).

``pynvml`` is imported on first use, so hosts without an NVIDIA driver import cjm-docker without
paying for it; any ``NVMLError`` (no library, no driver, no device) makes the provider answer
"unavailable" with the error kept in ``last_error``.
"""

from __future__ import annotations

import threading
from typing import Any

from cjm_docker.telemetry.gpu import GpuInfo, GpuProcess, MigDevice

MIB = 1024 * 1024
_NOT_AVAILABLE = 2**64 - 1   # NVML_VALUE_NOT_AVAILABLE for unsigned long long fields


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class NvmlProvider:
    """GPUs as NVML reports them.

    Args:
        nvml: the ``pynvml`` module, or a stand-in with the same functions (tests); by default
            imported on first use.
    """

    name = "nvml"

    def __init__(self, nvml: Any | None = None):
        self._nvml = nvml
        self._ready = False
        self._lock = threading.Lock()
        self.last_error: str | None = None

    def _init(self) -> Any | None:
        """The initialised module, or None (reason in ``last_error``)."""
        with self._lock:
            if self._ready:
                return self._nvml
            if self.last_error is not None:
                return None   # init already failed: it will not start working by itself
            try:
                if self._nvml is None:
                    import pynvml

                    self._nvml = pynvml
                self._nvml.nvmlInit()
            except ImportError as exc:
                self.last_error = f"nvidia-ml-py is not installed ({exc})"
                return None
            except Exception as exc:   # NVMLError and its many subclasses
                self.last_error = f"NVML did not initialise: {exc}"
                return None
            self._ready = True
            return self._nvml

    def available(self) -> bool:
        return bool(self.gpus())

    def driver_version(self) -> str | None:
        nvml = self._init()
        if nvml is None:
            return None
        try:
            return _text(nvml.nvmlSystemGetDriverVersion())
        except Exception:
            return None

    def gpus(self) -> list[GpuInfo]:
        nvml = self._init()
        if nvml is None:
            return []
        try:
            return [self._gpu(nvml, i) for i in range(nvml.nvmlDeviceGetCount())]
        except Exception as exc:
            self.last_error = f"NVML query failed: {exc}"
            return []

    def _gpu(self, nvml: Any, index: int) -> GpuInfo:
        handle = nvml.nvmlDeviceGetHandleByIndex(index)
        memory = nvml.nvmlDeviceGetMemoryInfo(handle)
        try:
            utilization: float | None = float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
        except Exception:   # NVML_ERROR_NOT_SUPPORTED on some devices (MIG, vGPU)
            utilization = None
        try:
            temperature: float | None = float(
                nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU))
        except Exception:
            temperature = None
        return GpuInfo(index=index, uuid=_text(nvml.nvmlDeviceGetUUID(handle)),
                       name=_text(nvml.nvmlDeviceGetName(handle)),
                       memory_total_mb=memory.total / MIB, memory_used_mb=memory.used / MIB,
                       memory_free_mb=memory.free / MIB, utilization_percent=utilization,
                       temperature_c=temperature)

    def mig_devices(self) -> list[MigDevice]:
        """Every MIG device of every GPU whose MIG mode is on ([] without MIG or NVML)."""
        nvml = self._init()
        if nvml is None:
            return []
        found = []
        try:
            count = nvml.nvmlDeviceGetCount()
        except Exception:
            return []
        for index in range(count):
            try:
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
                current, _pending = nvml.nvmlDeviceGetMigMode(handle)
                if not current:
                    continue
                slots = nvml.nvmlDeviceGetMaxMigDeviceCount(handle)
            except Exception:   # NOT_SUPPORTED: a GPU without MIG (most of them)
                continue
            for slot in range(slots):
                try:
                    mig = nvml.nvmlDeviceGetMigDeviceHandleByIndex(handle, slot)
                except Exception:   # NOT_FOUND: an empty slot
                    continue
                try:
                    total = nvml.nvmlDeviceGetMemoryInfo(mig).total / MIB
                except Exception:
                    total = 0.0
                found.append(MigDevice(index, slot, _text(nvml.nvmlDeviceGetUUID(mig)),
                                       _text(nvml.nvmlDeviceGetName(mig)), total))
        return found

    def processes(self) -> list[GpuProcess]:
        nvml = self._init()
        if nvml is None:
            return []
        found: dict[tuple[int, int], GpuProcess] = {}
        try:
            for index in range(nvml.nvmlDeviceGetCount()):
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
                uuid = _text(nvml.nvmlDeviceGetUUID(handle))
                for query in ("nvmlDeviceGetComputeRunningProcesses",
                              "nvmlDeviceGetGraphicsRunningProcesses"):
                    try:
                        running = getattr(nvml, query)(handle)
                    except Exception:
                        continue
                    for proc in running:
                        used = getattr(proc, "usedGpuMemory", None)
                        mb = None if used in (None, _NOT_AVAILABLE) else used / MIB
                        found.setdefault((int(proc.pid), index),
                                         GpuProcess(int(proc.pid), index, uuid, mb))
        except Exception as exc:
            self.last_error = f"NVML process query failed: {exc}"
        return list(found.values())
