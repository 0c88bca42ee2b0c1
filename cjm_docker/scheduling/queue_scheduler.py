"""``QueueScheduler``: wait (polling fresh stats) until the need fits, up to a timeout.

As in 0.0.x the first check is immediate and a missing GPU stat counts as "fits" (the RAM check
still runs). Unlike 0.0.x: the async wait awaits the stats and ``asyncio.sleep`` (the event loop
never blocks), the last sleep is cut so the timeout is not overshot, a need larger than the
machine is refused at once instead of after the timeout, and admitted needs are reserved.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from cjm_docker.scheduling.admission import Admission
from cjm_docker.scheduling.base import AsyncStatsProvider, StatsProvider
from cjm_docker.scheduling.capacity import CapacityScheduler

log = logging.getLogger(__name__)


class QueueScheduler(CapacityScheduler):
    """Waits until resources free up.

    Args:
        timeout: seconds to wait before refusing.
        poll_interval: seconds between two looks at the stats.
        clock, sleep, async_sleep: injectable for tests.
    """

    def __init__(self, timeout: float = 300.0, poll_interval: float = 2.0, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep):
        super().__init__()
        self.timeout = timeout
        self.poll_interval = poll_interval
        self._clock = clock
        self._sleep = sleep
        self._async_sleep = async_sleep

    def _step(self, meta: Any, stats: dict[str, Any] | None, gpu_indices: tuple[int, ...] | None,
              wait: bool, started: float) -> tuple[Admission | None, float]:
        """One look: the final answer, or None and how long to sleep before the next look."""
        admission, _ = self._decide(meta, stats or {}, gpu_indices)
        if admission.admitted:
            return admission, 0.0
        if not admission.retryable:
            log.error("[Scheduler] %s (more than this machine has: not waiting)", admission.reason)
            return admission, 0.0
        if not wait:
            return Admission.queue(admission.reason, shortage=admission.shortage,
                                   gpu_index=admission.gpu_index), 0.0
        elapsed = self._clock() - started
        if elapsed >= self.timeout:
            log.error("[Scheduler] Timed out after %.0fs: %s", self.timeout, admission.reason)
            return Admission.refuse(f"Timed out after {self.timeout:.0f}s waiting: "
                                    f"{admission.reason}", shortage=admission.shortage,
                                    gpu_index=admission.gpu_index), 0.0
        pause = min(self.poll_interval, self.timeout - elapsed)
        log.info("[Scheduler] Resources busy (%s). Waiting %.1fs...", admission.reason, pause)
        return None, pause

    def admit(self, meta: Any, stats_provider: StatsProvider, *,
              gpu_indices: tuple[int, ...] | None = None, wait: bool = True) -> Admission:
        started = self._clock()
        while True:
            answer, pause = self._step(meta, stats_provider(), gpu_indices, wait, started)
            if answer is not None:
                return answer
            self._sleep(pause)

    async def admit_async(self, meta: Any, stats_provider: AsyncStatsProvider, *,
                          gpu_indices: tuple[int, ...] | None = None,
                          wait: bool = True) -> Admission:
        started = self._clock()
        while True:
            answer, pause = self._step(meta, await stats_provider(), gpu_indices, wait, started)
            if answer is not None:
                return answer
            await self._async_sleep(pause)

    async def allocate_async(self, meta: Any, stats_provider: AsyncStatsProvider) -> bool:
        return (await self.admit_async(meta, stats_provider)).admitted
