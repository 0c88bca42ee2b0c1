"""``LoopLagMonitor``: measures how long the event loop was kept from running other tasks.

A task sleeps ``interval`` in a loop and records how late it wakes up. Lateness is the time the
loop spent in something that did not await (a blocking call); anything above a few
milliseconds means the loop was blocked.

    async with LoopLagMonitor() as lag:
        await queue.cancel(job_id)
        ...
    assert lag.max_lag < 0.1
"""

from __future__ import annotations

import asyncio
import contextlib
import time


class LoopLagMonitor:
    """Records the event loop's worst and total lateness while active.

    Args:
        interval: how long each sleep asks for (seconds).
    """

    def __init__(self, interval: float = 0.01):
        self.interval = interval
        self.max_lag = 0.0
        self.samples = 0
        self.total_lag = 0.0
        self._task: asyncio.Task | None = None

    async def _watch(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.interval)
            lag = max(0.0, time.perf_counter() - before - self.interval)
            self.samples += 1
            self.total_lag += lag
            self.max_lag = max(self.max_lag, lag)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._watch())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def __aenter__(self) -> LoopLagMonitor:
        self.start()
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def report(self) -> dict[str, float]:
        """``{"max_lag_ms", "mean_lag_ms", "samples"}``."""
        mean = self.total_lag / self.samples if self.samples else 0.0
        return {"max_lag_ms": round(self.max_lag * 1000, 2), "mean_lag_ms": round(mean * 1000, 3),
                "samples": self.samples}
