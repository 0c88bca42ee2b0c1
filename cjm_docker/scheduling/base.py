"""The scheduler interface of cjm-plugin-system 0.0.x, and the scheduler that allows everything."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any

StatsProvider = Callable[[], dict[str, Any]]
AsyncStatsProvider = Callable[[], Awaitable[dict[str, Any]]]


class ResourceScheduler(ABC):
    """Decides whether a plugin may execute given the system's stats."""

    @abstractmethod
    def allocate(self, meta: Any, stats_provider: StatsProvider) -> bool:
        """True when ``meta``'s plugin may run now."""

    async def allocate_async(self, meta: Any, stats_provider: AsyncStatsProvider) -> bool:
        """Async admission; the default fetches stats once and decides."""
        stats = await stats_provider()
        return self.allocate(meta, lambda: stats)

    @abstractmethod
    def on_execution_start(self, plugin_name: str) -> None:
        """A call of ``plugin_name`` started."""

    @abstractmethod
    def on_execution_finish(self, plugin_name: str) -> None:
        """A call of ``plugin_name`` finished (successfully or not)."""


class PermissiveScheduler(ResourceScheduler):
    """Allows every call (the default)."""

    def allocate(self, meta: Any, stats_provider: StatsProvider) -> bool:
        return True

    def on_execution_start(self, plugin_name: str) -> None:
        pass

    def on_execution_finish(self, plugin_name: str) -> None:
        pass
