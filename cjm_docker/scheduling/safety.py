"""``SafetyScheduler``: one check with fresh stats; refuse when the need does not fit.

Fixed from 0.0.x: missing GPU stats no longer skip the RAM check (defect 16), and admitted
needs are reserved until the call finishes.
"""

from __future__ import annotations

import logging
from typing import Any

from cjm_docker.scheduling.admission import Admission
from cjm_docker.scheduling.base import AsyncStatsProvider, StatsProvider
from cjm_docker.scheduling.capacity import CapacityScheduler

log = logging.getLogger(__name__)


class SafetyScheduler(CapacityScheduler):
    """Admits a call only if its RAM and VRAM needs fit now; never waits."""

    def _answer(self, meta: Any, stats: dict[str, Any] | None,
                gpu_indices: tuple[int, ...] | None) -> Admission:
        admission, _ = self._decide(meta, stats or {}, gpu_indices)
        if not admission.admitted:
            log.warning("[Scheduler] %s", admission.reason)
        return admission

    def admit(self, meta: Any, stats_provider: StatsProvider, *,
              gpu_indices: tuple[int, ...] | None = None, wait: bool = True) -> Admission:
        return self._answer(meta, stats_provider(), gpu_indices)

    async def admit_async(self, meta: Any, stats_provider: AsyncStatsProvider, *,
                          gpu_indices: tuple[int, ...] | None = None,
                          wait: bool = True) -> Admission:
        return self._answer(meta, await stats_provider(), gpu_indices)

    async def allocate_async(self, meta: Any, stats_provider: AsyncStatsProvider) -> bool:
        return (await self.admit_async(meta, stats_provider)).admitted
