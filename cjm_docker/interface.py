"""The plugin contract, unchanged from cjm-plugin-system 0.0.x.

A plugin is a class with ``name``, ``version``, ``initialize``, ``execute``, ``execute_stream``,
``get_config_schema``, ``get_current_config``, ``cleanup``, ``cancel`` and ``report_progress``.
Subclassing ``PluginInterface`` is optional: the worker hosts duck-typed classes too, including
subclasses of cjm-plugin-system's own ``PluginInterface``.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Generator
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class FileBackedDTO(Protocol):
    """An object that can write itself to a file, so only its path crosses to the plugin."""

    def to_temp_file(self) -> str:
        """Write the data to a file and return its absolute path."""
        ...


class PluginInterface(ABC):
    """Base class for plugins (inside containers) and for proxies (in the host)."""

    @property
    @abstractmethod
    def name(self) -> str:
        """Unique identifier of the plugin."""

    @property
    @abstractmethod
    def version(self) -> str:
        """Semantic version string."""

    @abstractmethod
    def initialize(self, config: dict[str, Any] | None = None) -> None:
        """(Re)configure the plugin with its full config; may be called repeatedly."""

    @abstractmethod
    def execute(self, *args: Any, **kwargs: Any) -> Any:
        """Do the plugin's work; the result must be JSON-encodable (dataclasses are fine)."""

    def execute_stream(self, *args: Any, **kwargs: Any) -> Generator[Any, None, None]:
        """Yield results incrementally; by default the single result of ``execute``."""
        yield self.execute(*args, **kwargs)

    @abstractmethod
    def get_config_schema(self) -> dict[str, Any]:
        """JSON Schema of the config (usually ``dataclass_to_jsonschema(ConfigClass)``)."""

    @abstractmethod
    def get_current_config(self) -> dict[str, Any]:
        """The config values in effect."""

    @abstractmethod
    def cleanup(self) -> None:
        """Release resources; runs on unload and when the container is stopped."""

    def cancel(self) -> bool | None:
        """Ask a running ``execute`` to stop: sets ``cancel_requested`` (check it, or call
        ``check_cancel()``). A plugin returns None; the host's ``RemotePluginProxy`` returns
        whether a running call was told (cjm-plugin-system's proxy did the same)."""
        self._cancel_event().set()
        return None

    @property
    def cancel_requested(self) -> bool:
        """True once ``cancel()`` was called during the current call."""
        return self._cancel_event().is_set()

    def check_cancel(self) -> None:
        """Raise ``PluginCancelledError`` if cancel was requested; call it in long loops."""
        if self.cancel_requested:
            from cjm_docker.errors import PluginCancelledError

            raise PluginCancelledError("cancelled", plugin=getattr(self, "name", None))

    def report_progress(self, progress: float, message: str = "") -> None:
        """Report progress: 0.0-1.0, or -1.0 when indeterminate."""
        self._progress = progress
        self._status_message = message

    def _cancel_event(self) -> threading.Event:
        event = self.__dict__.get("_cjm_cancel_event")
        if event is None:
            event = self.__dict__.setdefault("_cjm_cancel_event", threading.Event())
        return event
