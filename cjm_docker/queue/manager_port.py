"""What the job queue needs from a plugin manager, and nothing more.

``PluginManager`` satisfies ``PluginRunner``; so do the queue tests' fake manager and any
0.0.x-style manager that has these methods. Typing the queue against this small protocol
(instead of ``Any`` and attribute probes) keeps the queue a layer above the host: it never
reaches into a manager's proxies or containers beyond what is named here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class JobLogSource(Protocol):
    """A worker log that can be sliced by byte position (a container this host started)."""

    def log_position(self) -> int: ...

    def read_log_since(self, position: int, end: int | None = None) -> str: ...


class QueuedPlugin(Protocol):
    """A loaded plugin as the queue drives it: progress and cooperative cancel."""

    @property
    def container(self) -> object: ...  # a JobLogSource when its logs can be sliced

    async def get_progress_async(self) -> dict[str, Any]: ...

    async def cancel_async(self) -> bool: ...


class PluginMetaLike(Protocol):
    @property
    def name(self) -> str: ...


class ConfigLike(Protocol):
    @property
    def data_dir(self) -> Path: ...


class PluginRunner(Protocol):
    """The manager behind a ``JobQueue``."""

    @property
    def config(self) -> ConfigLike: ...

    def get_plugin(self, name: str) -> QueuedPlugin | None: ...

    def get_plugin_meta(self, name: str) -> PluginMetaLike | None: ...

    async def execute_plugin_async(self, name: str, *args: Any, **kwargs: Any) -> Any: ...

    async def restart_plugin_async(self, name: str) -> None: ...
