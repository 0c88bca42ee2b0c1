"""Does a plugin's need fit into what the stats say is free, after open reservations?

``assess`` is pure (stats and ledger in, ``Assessment`` out). ``CapacityScheduler`` is the base of
the schedulers that use it: it decides and reserves under the ledger's lock, releases on finish,
and tracks the plugins that are executing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cjm_docker.scheduling.admission import Admission, Shortage
from cjm_docker.scheduling.base import ResourceScheduler, StatsProvider, plugin_name
from cjm_docker.scheduling.requirements import Requirements
from cjm_docker.scheduling.reservations import ReservationLedger

log = logging.getLogger(__name__)


def _num(value: Any) -> float | None:
    try:
        return None if value is None or isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class Assessment:
    """The comparison of one need with the stats."""

    fits: bool
    reason: str
    shortage: Shortage = Shortage()
    gpu_indices: tuple[int, ...] = ()   # the GPUs the need was counted against
    can_ever_fit: bool = True           # False: more than the machine has, waiting cannot help
    gpu_stats_missing: bool = False


def _per_gpu(stats: Mapping[str, Any]) -> dict[int, tuple[float, float]]:
    """``{index: (free, total)}`` from the telemetry's ``gpus`` list (empty when absent)."""
    out = {}
    for g in stats.get("gpus") or []:
        if isinstance(g, Mapping) and _num(g.get("index")) is not None \
                and _num(g.get("memory_free_mb")) is not None:
            out[int(g["index"])] = (_num(g["memory_free_mb"]) or 0.0,
                                    _num(g.get("memory_total_mb")) or float("inf"))
    return out


def assess(name: str, req: Requirements, stats: Mapping[str, Any], ledger: ReservationLedger,
           gpu_indices: tuple[int, ...] | None = None) -> Assessment:
    """Compare ``req`` with ``stats`` minus what ``ledger`` holds (strict: equal fits).

    Args:
        gpu_indices: the GPUs the plugin's container was given; () runs without a GPU (no VRAM
            check); None: unknown, the freest GPUs that fit are chosen.
    """
    usage = stats.get("plugins") if isinstance(stats.get("plugins"), Mapping) else None
    problems: list[str] = []
    ram_short = vram_short = 0.0
    short_gpus: tuple[int, ...] = ()
    chosen: tuple[int, ...] = ()
    ever = True
    missing = False
    if req.needs_vram and gpu_indices != ():
        need = req.vram_mb
        per_gpu = _per_gpu(stats)
        pool_free = _num(stats.get("gpu_free_memory_mb"))
        if per_gpu and (gpu_indices is None or all(i in per_gpu for i in gpu_indices)):
            free = {i: f - ledger.reserved_vram_mb(i, usage) for i, (f, _) in per_gpu.items()}
            if gpu_indices is not None:
                chosen = tuple(gpu_indices)
                lacking = {i: need - free[i] for i in chosen if need > free[i]}
                ever = all(need <= per_gpu[i][1] for i in chosen)
            else:
                order = sorted(free, key=lambda i: (-free[i], i))
                fitting = [i for i in order if need <= free[i]][:req.gpu_count]
                chosen = tuple(fitting) if len(fitting) == req.gpu_count else \
                    tuple(order[:req.gpu_count])
                lacking = {i: need - free[i] for i in chosen if need > free[i]}
                totals = sorted((t for _, t in per_gpu.values()), reverse=True)
                ever = len(totals) >= req.gpu_count and need <= totals[req.gpu_count - 1]
            if lacking:
                vram_short = max(lacking.values())
                short_gpus = tuple(sorted(lacking)) if gpu_indices is not None else ()
                where = ",".join(map(str, sorted(lacking)))
                problems.append(f"needs {need:.0f}MB VRAM, GPU {where} has "
                                f"{min(free[i] for i in lacking):.0f}MB free after reservations")
        elif pool_free is not None:
            free_mb = pool_free - ledger.reserved_vram_mb(None, usage)
            if need > free_mb:
                vram_short = need - free_mb
                problems.append(f"needs {need:.0f}MB VRAM, has {free_mb:.0f}MB")
        else:
            missing = True   # 0.0.x: no GPU stats, no VRAM check; the RAM check still runs
    if req.ram_mb > 0:
        available = _num(stats.get("memory_available_mb"))
        if available is not None:
            free_mb = available - ledger.reserved_ram_mb(usage)
            if req.ram_mb > free_mb:
                ram_short = req.ram_mb - free_mb
                problems.append(f"needs {req.ram_mb:.0f}MB RAM, has {free_mb:.0f}MB")
            total = _num(stats.get("memory_total_mb"))
            if total is not None and req.ram_mb > total:
                ever = False
    shortage = Shortage(ram_short, vram_short, short_gpus)
    if problems:
        return Assessment(False, f"Blocked {name}: " + "; ".join(problems), shortage, chosen,
                          ever, missing)
    return Assessment(True, f"{name} fits", shortage, chosen, ever, missing)


class CapacityScheduler(ResourceScheduler):
    """Base of the schedulers that compare needs with stats and hold reservations."""

    def __init__(self) -> None:
        self.reservations = ReservationLedger()
        self._active: dict[str, int] = {}

    def _decide(self, meta: Any, stats: Mapping[str, Any],
                gpu_indices: tuple[int, ...] | None) -> tuple[Admission, Assessment]:
        """Assess and, when it fits, reserve; atomic against other admissions."""
        name = plugin_name(meta)
        req = Requirements.of(meta)
        with self.reservations.lock:
            result = assess(name, req, stats, self.reservations, gpu_indices)
            if result.gpu_stats_missing:
                log.warning("No GPU stats available: %s needs VRAM but only its RAM is checked.",
                            name)
            if not result.fits:
                return Admission.refuse(result.reason, shortage=result.shortage,
                                        gpu_index=next(iter(result.gpu_indices), None),
                                        retryable=result.can_ever_fit), result
            vram_gpus = result.gpu_indices if req.needs_vram and gpu_indices != () else ()
            reservation = self.reservations.reserve(
                name, req.ram_mb, req.vram_mb if req.needs_vram and gpu_indices != () else 0.0,
                vram_gpus)
        return Admission.admit(result.reason, gpu_index=next(iter(result.gpu_indices), None),
                               reservation=reservation), result

    def allocate(self, meta: Any, stats_provider: StatsProvider) -> bool:
        return self.admit(meta, stats_provider).admitted

    def on_execution_start(self, plugin_name: str) -> None:
        with self.reservations.lock:
            self._active[plugin_name] = self._active.get(plugin_name, 0) + 1

    def on_execution_finish(self, plugin_name: str) -> None:
        with self.reservations.lock:
            count = self._active.get(plugin_name, 0) - 1
            if count > 0:
                self._active[plugin_name] = count
            else:
                self._active.pop(plugin_name, None)
            self.reservations.release(plugin_name)

    def release(self, plugin_name: str) -> None:
        """Drop a plugin's open reservations without a finish (it was admitted but never ran)."""
        self.reservations.release_all(plugin_name)

    def get_active_plugins(self) -> set[str]:
        """Names of plugins executing now (a copy)."""
        with self.reservations.lock:
            return set(self._active)
