"""Which idle plugins to stop to make room (pure: candidates and shortage in, victims out).

Rules: never a busy plugin nor a protected one (the plugin that needs the room, the system
monitor); only plugins that hold the resource that is short; least recently used first; and only
as many as it takes. If stopping every eligible plugin would still not make room, none is stopped.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from cjm_docker.scheduling.admission import Shortage


@dataclass(frozen=True)
class EvictionCandidate:
    """A loaded plugin and what its container holds (MiB)."""

    name: str
    last_executed: float
    busy: bool = False
    ram_mb: float = 0.0
    vram_mb: Mapping[int, float] = field(default_factory=dict)   # by GPU index

    def vram_on(self, gpu_indices: tuple[int, ...]) -> float:
        """VRAM it holds on those GPUs (() = on any GPU)."""
        if not gpu_indices:
            return sum(self.vram_mb.values())
        return sum(self.vram_mb.get(i, 0.0) for i in gpu_indices)


def choose_victims(candidates: Iterable[EvictionCandidate], shortage: Shortage | None, *,
                   protected: Collection[str] = ()) -> list[EvictionCandidate]:
    """The plugins to stop, in order.

    Args:
        candidates: every loaded plugin.
        shortage: what is missing; None when the scheduler did not say (then every idle
            plugin is a candidate, least recently used first, and the caller stops them one at a
            time until the scheduler admits, as 0.0.x did).
        protected: names that are never stopped.
    """
    idle = sorted((c for c in candidates if not c.busy and c.name not in protected),
                  key=lambda c: (c.last_executed, c.name))
    if shortage is None:
        return idle
    ram_left, vram_left = max(0.0, shortage.ram_mb), max(0.0, shortage.vram_mb)
    if not ram_left and not vram_left:
        return []
    victims = []
    for candidate in idle:
        frees_ram = min(ram_left, candidate.ram_mb) if ram_left else 0.0
        frees_vram = min(vram_left, candidate.vram_on(shortage.gpu_indices)) if vram_left else 0.0
        if frees_ram <= 0 and frees_vram <= 0:
            continue   # holds nothing that is short: stopping it would not help
        victims.append(candidate)
        ram_left -= frees_ram
        vram_left -= frees_vram
        if ram_left <= 0 and vram_left <= 0:
            return victims
    return []
