"""``NvidiaSmiProvider``: GPU figures from ``nvidia-smi`` CSV output, where NVML cannot be loaded.

Parsing is pure (``parse_gpus``, ``parse_processes``) so it is tested on captured text.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable

from cjm_docker.telemetry.gpu import GpuInfo, GpuProcess, MigDevice

GPU_FIELDS = ("index", "uuid", "name", "memory.total", "memory.used", "memory.free",
              "utilization.gpu", "temperature.gpu")
APP_FIELDS = ("pid", "gpu_uuid", "used_memory")

Runner = Callable[[list[str]], str]


def _number(text: str) -> float | None:
    """A CSV cell as a number; None for ``[N/A]``, ``[Not Supported]`` and the like."""
    try:
        return float(text.strip())
    except ValueError:
        return None


def parse_gpus(text: str) -> list[GpuInfo]:
    """Rows of ``--query-gpu=<GPU_FIELDS> --format=csv,noheader,nounits``."""
    gpus = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.split(",")]
        if len(cells) < len(GPU_FIELDS) or not cells[0].isdigit():
            continue
        # A GPU name may itself contain commas: the fields after it are counted from the end.
        index, uuid, *name_parts = cells[:len(cells) - 5]
        total, used, free, util, temp = (_number(c) for c in cells[-5:])
        gpus.append(GpuInfo(index=int(index), uuid=uuid, name=", ".join(name_parts),
                            memory_total_mb=total or 0.0, memory_used_mb=used or 0.0,
                            memory_free_mb=free if free is not None else (total or 0) - (used or 0),
                            utilization_percent=util, temperature_c=temp))
    return gpus


def parse_processes(text: str, gpus: list[GpuInfo]) -> list[GpuProcess]:
    """Rows of ``--query-compute-apps=<APP_FIELDS> --format=csv,noheader,nounits``."""
    index_of = {g.uuid: g.index for g in gpus}
    processes = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.split(",")]
        if len(cells) < len(APP_FIELDS) or not cells[0].isdigit():
            continue
        pid, uuid, used = cells[0], cells[1], _number(cells[2])
        processes.append(GpuProcess(int(pid), index_of.get(uuid, -1), uuid, used))
    return processes


_GPU_LINE = re.compile(r"^GPU (\d+): (.*) \(UUID: (GPU-[^)]+)\)")
_MIG_LINE = re.compile(r"^\s+MIG (\S+)\s+Device\s+(\d+): \(UUID: (MIG-[^)]+)\)")


def parse_mig_list(text: str) -> list[MigDevice]:
    """MIG devices from ``nvidia-smi -L`` (each listed under its GPU's line)."""
    found: list[MigDevice] = []
    parent: tuple[int, str] | None = None
    for line in text.splitlines():
        gpu = _GPU_LINE.match(line)
        if gpu:
            parent = (int(gpu.group(1)), gpu.group(2).strip())
            continue
        mig = _MIG_LINE.match(line)
        if mig and parent is not None:
            found.append(MigDevice(parent[0], int(mig.group(2)), mig.group(3),
                                   f"{parent[1]} MIG {mig.group(1)}"))
    return found


def _run(argv: list[str]) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=10).stdout


class NvidiaSmiProvider:
    """GPUs as ``nvidia-smi`` reports them.

    Args:
        executable: the nvidia-smi to run (default: found on PATH).
        runner: runs an argv and returns its stdout, raising on failure (tests).
    """

    name = "nvidia-smi"

    def __init__(self, executable: str | None = None, runner: Runner | None = None):
        self.executable = executable or shutil.which("nvidia-smi")
        self._run = runner or _run
        self.last_error: str | None = None if self.executable else "nvidia-smi is not on PATH"

    def _query(self, *args: str) -> str | None:
        if not self.executable:
            return None
        try:
            return self._run([self.executable, *args, "--format=csv,noheader,nounits"])
        except (OSError, subprocess.SubprocessError) as exc:
            self.last_error = f"nvidia-smi failed: {exc}"
            return None

    def available(self) -> bool:
        return bool(self.gpus())

    def gpus(self) -> list[GpuInfo]:
        text = self._query(f"--query-gpu={','.join(GPU_FIELDS)}")
        return parse_gpus(text) if text else []

    def mig_devices(self) -> list[MigDevice]:
        """MIG devices as ``nvidia-smi -L`` lists them ([] without MIG or nvidia-smi)."""
        if not self.executable:
            return []
        try:
            return parse_mig_list(self._run([self.executable, "-L"]))
        except (OSError, subprocess.SubprocessError):
            return []

    def processes(self) -> list[GpuProcess]:
        text = self._query(f"--query-compute-apps={','.join(APP_FIELDS)}")
        return parse_processes(text, self.gpus()) if text else []
