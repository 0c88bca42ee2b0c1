"""The scheduler interface of cjm-plugin-system 0.0.x, and the scheduler that allows everything.

``allocate(meta, stats_provider) -> bool`` keeps its 0.0.x meaning, so a scheduler written for
0.0.x (overriding only ``allocate``) still plugs in. cjm-docker's own schedulers implement the
richer ``admit``, which says why (``Admission``), what is short, and what it reserved.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any

from cjm_docker.scheduling.admission import Admission

StatsProvider = Callable[[], dict[str, Any]]
AsyncStatsProvider = Callable[[], Awaitable[dict[str, Any]]]


def plugin_name(meta: Any) -> str:
    return str(getattr(meta, "name", None) or (meta.get("name") if isinstance(meta, dict) else "")
               or "?")


class ResourceScheduler(ABC):
    """Decides whether a plugin may execute given the system's stats.

    Attributes:
        enforcing: False for a scheduler that never refuses: the manager then neither fetches
            stats nor evicts for it.
    """

    enforcing: bool = True

    @abstractmethod
    def allocate(self, meta: Any, stats_provider: StatsProvider) -> bool:
        """True when ``meta``'s plugin may run now."""

    async def allocate_async(self, meta: Any, stats_provider: AsyncStatsProvider) -> bool:
        """Async admission; the default fetches stats once and decides."""
        stats = await stats_provider()
        return self.allocate(meta, lambda: stats)

    def admit(self, meta: Any, stats_provider: StatsProvider, *,
              gpu_indices: tuple[int, ...] | None = None, wait: bool = True) -> Admission:
        """Decide, and say why.

        Args:
            meta: the plugin (a ``PluginMeta``; its ``manifest`` says what it needs).
            stats_provider: returns the stats dict (called again by polling schedulers).
            gpu_indices: the GPUs its container was given; () when it runs without a GPU,
                None when unknown.
            wait: False asks for an immediate answer (a waiting scheduler answers ``queued``).

        The default asks ``allocate`` (a 0.0.x scheduler): it cannot say what is short.
        """
        if self.allocate(meta, stats_provider):
            return Admission.admit(f"{type(self).__name__} admitted '{plugin_name(meta)}'")
        return Admission.refuse(f"{type(self).__name__} refused '{plugin_name(meta)}'")

    async def admit_async(self, meta: Any, stats_provider: AsyncStatsProvider, *,
                          gpu_indices: tuple[int, ...] | None = None,
                          wait: bool = True) -> Admission:
        """``admit`` for the event loop: stats are awaited, waits are ``asyncio.sleep``."""
        if await self.allocate_async(meta, stats_provider):
            return Admission.admit(f"{type(self).__name__} admitted '{plugin_name(meta)}'")
        return Admission.refuse(f"{type(self).__name__} refused '{plugin_name(meta)}'")

    @abstractmethod
    def on_execution_start(self, plugin_name: str) -> None:
        """A call of ``plugin_name`` started."""

    @abstractmethod
    def on_execution_finish(self, plugin_name: str) -> None:
        """A call of ``plugin_name`` finished (successfully or not)."""


_ALWAYS = Admission.admit("the permissive scheduler admits everything")


class PermissiveScheduler(ResourceScheduler):
    """Allows every call (the default)."""

    enforcing = False

    def allocate(self, meta: Any, stats_provider: StatsProvider) -> bool:
        return True

    def admit(self, meta: Any, stats_provider: StatsProvider, *,
              gpu_indices: tuple[int, ...] | None = None, wait: bool = True) -> Admission:
        return _ALWAYS

    async def admit_async(self, meta: Any, stats_provider: AsyncStatsProvider, *,
                          gpu_indices: tuple[int, ...] | None = None,
                          wait: bool = True) -> Admission:
        return self.admit(meta, lambda: {})

    def on_execution_start(self, plugin_name: str) -> None:
        pass

    def on_execution_finish(self, plugin_name: str) -> None:
        pass
