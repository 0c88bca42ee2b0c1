"""Recorded engine and NVML answers (tests/fixtures/engines, nvml, cdi), replayed.

``RecordedEngine`` answers ``info()`` with a recorded ``docker info`` and knows its endpoint, as
``cjm_docker.engine.Engine`` does; ``RecordedNvml`` answers the pynvml calls ``NvmlProvider``
makes from a recorded device list (GPUs, their MIG mode and MIG devices).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ENGINES = sorted(p.stem for p in (FIXTURES / "engines").glob("*.json"))


def engine_answer(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / "engines" / f"{name}.json").read_text())


class RecordedEngine:
    """An engine that answers what one recorded engine answered."""

    def __init__(self, name: str):
        recorded = engine_answer(name)
        self.endpoint: str = recorded["endpoint"]
        self._info: dict[str, Any] = recorded["info"]
        self.info_calls = 0

    def info(self) -> dict[str, Any]:
        self.info_calls += 1
        return self._info


class NVMLError(Exception):
    """Stands in for ``pynvml.NVMLError``."""


class RecordedNvml:
    """pynvml, replaying tests/fixtures/nvml/<name>.json."""

    NVML_TEMPERATURE_GPU = 0
    NVMLError = NVMLError

    def __init__(self, name: str):
        self.recorded = json.loads((FIXTURES / "nvml" / f"{name}.json").read_text())
        self.devices = self.recorded["devices"]

    def nvmlInit(self) -> None:
        pass

    def nvmlSystemGetDriverVersion(self) -> str:
        return self.recorded["driver"]

    def nvmlDeviceGetCount(self) -> int:
        return len(self.devices)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> tuple[int, None]:
        return (index, None)

    def _device(self, handle: tuple[int, int | None]) -> dict[str, Any]:
        gpu = self.devices[handle[0]]
        if handle[1] is None:
            return gpu
        return next(m for m in gpu["mig_devices"] if m["slot"] == handle[1])

    def nvmlDeviceGetUUID(self, handle: tuple[int, int | None]) -> bytes:
        return self._device(handle)["uuid"].encode()

    def nvmlDeviceGetName(self, handle: tuple[int, int | None]) -> bytes:
        return self._device(handle)["name"].encode()

    def nvmlDeviceGetMemoryInfo(self, handle: tuple[int, int | None]) -> Any:
        device = self._device(handle)
        if "memory" in device:
            return SimpleNamespace(**device["memory"])
        total = device["memory_total"]
        return SimpleNamespace(total=total, used=0, free=total)

    def nvmlDeviceGetUtilizationRates(self, handle: tuple[int, int | None]) -> Any:
        value = self._device(handle).get("utilization")
        if value is None:
            raise NVMLError("Not Supported")
        return SimpleNamespace(gpu=value, memory=0)

    def nvmlDeviceGetTemperature(self, handle: tuple[int, int | None], sensor: int) -> int:
        value = self._device(handle).get("temperature")
        if value is None:
            raise NVMLError("Not Supported")
        return value

    def nvmlDeviceGetMigMode(self, handle: tuple[int, int | None]) -> list[int]:
        mode = self._device(handle).get("mig_mode")
        if mode is None:
            raise NVMLError("Not Supported")
        return mode

    def nvmlDeviceGetMaxMigDeviceCount(self, handle: tuple[int, int | None]) -> int:
        return self._device(handle).get("mig_slots", 0)

    def nvmlDeviceGetMigDeviceHandleByIndex(self, handle: tuple[int, int | None],
                                            slot: int) -> tuple[int, int]:
        if not any(m["slot"] == slot for m in self.devices[handle[0]]["mig_devices"]):
            raise NVMLError("Not Found")
        return (handle[0], slot)

    def nvmlDeviceGetComputeRunningProcesses(self, handle: tuple[int, int | None]) -> list[Any]:
        return []

    def nvmlDeviceGetGraphicsRunningProcesses(self, handle: tuple[int, int | None]) -> list[Any]:
        return []
