"""The reservation ledger: what admitted calls may still take, so two admissions in a row cannot
both spend the same free memory.

A reservation is made at admission and released when the call finishes. While it is open, its
amount is subtracted from the free memory the stats report. When the stats also say what the
plugin's container already holds (``plugins`` in the telemetry stats), only the part not yet
taken counts, so a long call that has allocated its memory is not counted twice.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Reservation:
    """RAM and VRAM (MiB; VRAM on each of ``gpu_indices``) held for one admitted call.

    ``gpu_indices`` () with VRAM means "the GPU pool": the stats had no per-GPU figures.
    """

    id: int
    plugin: str
    ram_mb: float
    vram_mb: float
    gpu_indices: tuple[int, ...] = ()
    created: float = 0.0


def _held(usage: Mapping[str, Any] | None, plugin: str) -> Mapping[str, Any]:
    entry = (usage or {}).get(plugin)
    return entry if isinstance(entry, Mapping) else {}


class ReservationLedger:
    """Open reservations; thread-safe. ``lock`` lets a scheduler decide and reserve atomically."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._open: dict[int, Reservation] = {}
        self._ids = itertools.count(1)

    def reserve(self, plugin: str, ram_mb: float, vram_mb: float,
                gpu_indices: tuple[int, ...] = ()) -> Reservation:
        with self.lock:
            reservation = Reservation(next(self._ids), plugin, ram_mb, vram_mb,
                                      tuple(gpu_indices), time.time())
            self._open[reservation.id] = reservation
            return reservation

    def release(self, what: Reservation | str) -> Reservation | None:
        """Release one reservation, or the oldest of a plugin's; None when there was none."""
        with self.lock:
            if isinstance(what, Reservation):
                return self._open.pop(what.id, None)
            oldest = next((r for r in self._open.values() if r.plugin == what), None)
            return self._open.pop(oldest.id) if oldest else None

    def release_all(self, plugin: str) -> int:
        with self.lock:
            ids = [r.id for r in self._open.values() if r.plugin == plugin]
            for rid in ids:
                del self._open[rid]
            return len(ids)

    def active(self) -> list[Reservation]:
        with self.lock:
            return list(self._open.values())

    def holders(self) -> set[str]:
        """Names of plugins with an open reservation."""
        with self.lock:
            return {r.plugin for r in self._open.values()}

    def reserved_ram_mb(self, usage: Mapping[str, Any] | None = None) -> float:
        """RAM still to be taken by open reservations.

        Args:
            usage: ``{plugin: {"memory_mb": ...}}``; what a plugin's container already holds
                is not counted again.
        """
        with self.lock:
            by_plugin: dict[str, float] = {}
            for r in self._open.values():
                by_plugin[r.plugin] = by_plugin.get(r.plugin, 0.0) + r.ram_mb
        total = 0.0
        for plugin, amount in by_plugin.items():
            held = _held(usage, plugin).get("memory_mb") or 0.0
            total += max(0.0, amount - held)
        return total

    def reserved_vram_mb(self, gpu_index: int | None,
                         usage: Mapping[str, Any] | None = None) -> float:
        """VRAM still to be taken on GPU ``gpu_index`` (None: the pool, every GPU together).

        Pool reservations count against every GPU: they could land anywhere.
        """
        with self.lock:
            by_plugin: dict[str, float] = {}
            for r in self._open.values():
                if gpu_index is None:
                    amount = r.vram_mb * max(1, len(r.gpu_indices))
                elif not r.gpu_indices or gpu_index in r.gpu_indices:
                    amount = r.vram_mb
                else:
                    continue
                by_plugin[r.plugin] = by_plugin.get(r.plugin, 0.0) + amount
        total = 0.0
        for plugin, amount in by_plugin.items():
            per_gpu = _held(usage, plugin).get("gpu_memory_mb") or {}
            held = sum(per_gpu.values()) if gpu_index is None else \
                (per_gpu.get(gpu_index) or per_gpu.get(str(gpu_index)) or 0.0)
            total += max(0.0, amount - held)
        return total
