"""A readiness wait: timeout, a poll interval that starts short and backs off, an injectable clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class ReadinessWait:
    """Tracks one wait. Polls every ``first_interval`` at first (a worker is often ready within
    a few hundred ms), growing by ``backoff`` up to ``max_interval``.
    """

    timeout: float
    first_interval: float = 0.005
    max_interval: float = 0.01
    backoff: float = 1.3
    clock: Callable[[], float] = time.monotonic
    sleeper: Callable[[float], None] = time.sleep
    _started: float = field(init=False)
    _interval: float = field(init=False)

    def __post_init__(self) -> None:
        self._started = self.clock()
        self._interval = self.first_interval

    def elapsed(self) -> float:
        return self.clock() - self._started

    def expired(self) -> bool:
        return self.elapsed() >= self.timeout

    def sleep(self) -> None:
        self.sleeper(self._interval)
        self._interval = min(self.max_interval, self._interval * self.backoff)
