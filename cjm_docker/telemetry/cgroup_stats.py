"""``CgroupStatsSource``: a container's stats document read from its cgroup files directly.

The engine's stats endpoint, even one-shot, waits for its collector's next one-second tick once
a collector runs (measured on Docker 20.10: 4 ms for the first call, then about 1 s per call).
Reading the same cgroup files the daemon reads takes well under a millisecond. The document has
the engine's shape (``cpu_stats``, ``memory_stats``, ``pids_stats``), so ``docker stats``'s
formulas apply unchanged; ``system_cpu_usage`` and ``online_cpus`` come from ``/proc/stat`` as
the daemon computes them.

Where the cgroup is not visible from here (Docker Desktop, a remote engine, a rootless daemon),
the source falls back to the engine.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cjm_docker.telemetry.containers import StatsSource

NANOS = 1_000_000_000


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def _int(text: str | None) -> int | None:
    try:
        return int(text.strip()) if text is not None else None
    except ValueError:
        return None   # "max" (cgroup v2: no limit)


def _keyed(text: str | None) -> dict[str, int]:
    out = {}
    for line in (text or "").splitlines():
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            out[key] = int(value)
    return out


def system_cpu(proc_root: Path = Path("/proc")) -> tuple[int, int] | None:
    """(system CPU time in ns, online CPUs) from ``/proc/stat``, as dockerd computes them."""
    text = _read(proc_root / "stat")
    if text is None:
        return None
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total, cpus = None, 0
    for line in text.splitlines():
        parts = line.split()
        if parts and parts[0] == "cpu" and len(parts) >= 8:
            total = sum(int(v) for v in parts[1:8]) * NANOS // ticks
        elif parts and parts[0].startswith("cpu"):
            cpus += 1
    return (total, cpus or 1) if total is not None else None


def host_memory_bytes(proc_root: Path = Path("/proc")) -> int | None:
    for line in (_read(proc_root / "meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return None


class CgroupStatsSource:
    """Stats documents from ``/sys/fs/cgroup``; the engine for containers not visible there.

    Args:
        fallback: the engine (``container_stats``); None: no fallback.
        cgroup_root: where the cgroup hierarchy is mounted.
        proc_root: where ``/proc`` is.
    """

    def __init__(self, fallback: StatsSource | None = None, *,
                 cgroup_root: Path = Path("/sys/fs/cgroup"), proc_root: Path = Path("/proc")):
        self.fallback = fallback
        self.root = cgroup_root
        self.proc_root = proc_root
        self.v2 = (cgroup_root / "cgroup.controllers").exists()

    def _dir(self, controller: str, container_id: str) -> Path | None:
        base = self.root if self.v2 else self.root / controller
        for candidate in (base / "docker" / container_id,
                          base / "system.slice" / f"docker-{container_id}.scope"):
            if candidate.is_dir():
                return candidate
        return None

    def read_cgroup(self, container_id: str) -> dict[str, Any] | None:
        """The document from the cgroup files; None when they are not visible (or gone)."""
        memory = self._dir("memory", container_id)
        cpu = self._dir("cpuacct", container_id) or self._dir("cpu,cpuacct", container_id)
        if memory is None or cpu is None:
            return None
        if self.v2:
            usage = _int(_read(memory / "memory.current"))
            limit = _int(_read(memory / "memory.max"))
            cpu_ns = _keyed(_read(cpu / "cpu.stat")).get("usage_usec")
            cpu_ns = cpu_ns * 1000 if cpu_ns is not None else None
        else:
            usage = _int(_read(memory / "memory.usage_in_bytes"))
            limit = _int(_read(memory / "memory.limit_in_bytes"))
            cpu_ns = _int(_read(cpu / "cpuacct.usage"))
        system = system_cpu(self.proc_root)
        if usage is None or cpu_ns is None or system is None:
            return None    # removed while we read
        host = host_memory_bytes(self.proc_root)
        if host is not None and (limit is None or limit > host):
            limit = host   # no limit: dockerd reports the machine's memory
        pids_dir = self._dir("pids", container_id)
        pids = _int(_read(pids_dir / "pids.current")) if pids_dir else None
        return {"id": container_id, "source": "cgroup",
                "cpu_stats": {"cpu_usage": {"total_usage": cpu_ns},
                              "system_cpu_usage": system[0], "online_cpus": system[1]},
                "precpu_stats": {},
                "memory_stats": {"usage": usage, "limit": limit or 0,
                                 "stats": _keyed(_read(memory / "memory.stat"))},
                "pids_stats": {"current": pids or 0}}

    def container_stats(self, container_id: str) -> dict[str, Any] | None:
        doc = self.read_cgroup(container_id)
        if doc is None and self.fallback is not None:
            return self.fallback.container_stats(container_id)
        return doc
