"""Which container a host process belongs to, read from ``/proc/<pid>/cgroup``.

NVML and nvidia-smi name GPU processes by host PID; a process inside a container has the
container's 64-hex id in its cgroup path (``/docker/<id>`` with cgroupfs,
``/system.slice/docker-<id>.scope`` with systemd, ``.../cri-containerd-<id>.scope``, ...).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from cjm_docker.telemetry.gpu import GpuProcess

_CONTAINER_ID = re.compile(r"(?<![0-9a-f])([0-9a-f]{64})(?![0-9a-f])")


def container_id_in_cgroup(text: str) -> str | None:
    """The container id named by a ``/proc/<pid>/cgroup`` document, or None (a host process)."""
    for line in text.splitlines():
        match = _CONTAINER_ID.search(line.rpartition(":")[2])
        if match:
            return match.group(1)
    return None


def container_of_pid(pid: int, proc_root: Path = Path("/proc")) -> str | None:
    """The id of the container running ``pid``; None for host processes and vanished pids."""
    try:
        return container_id_in_cgroup((proc_root / str(pid) / "cgroup").read_text())
    except OSError:
        return None


def gpu_memory_by_container(processes: Iterable[GpuProcess],
                            proc_root: Path = Path("/proc")) -> dict[str, dict[int, float]]:
    """``{container id: {gpu index: MiB}}`` for every GPU process that runs in a container."""
    usage: dict[str, dict[int, float]] = {}
    for proc in processes:
        container_id = container_of_pid(proc.pid, proc_root)
        if container_id is None:
            continue
        per_gpu = usage.setdefault(container_id, {})
        per_gpu[proc.gpu_index] = per_gpu.get(proc.gpu_index, 0.0) + (proc.used_memory_mb or 0.0)
    return usage
