"""``PluginMeta``: what the host knows about a discovered or loaded plugin (as in 0.0.x)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the worker imports this module without pydantic
    from cjm_docker.manifest import Manifest


@dataclass
class PluginMeta:
    """A plugin as the manager sees it.

    ``manifest`` is a declared field here (0.0.x attached it dynamically), excluded from
    equality so two metas of the same plugin compare equal. It is the 0.0.x dict view of
    ``model``, the typed manifest discovery read: the host starts containers from ``model``
    and never parses the dict back.
    """

    name: str
    version: str
    description: str = ""
    author: str = ""
    package_name: str = ""       # the manifest's ``module``, as in 0.0.x
    category: str = ""
    interface: str = ""
    config_schema: dict[str, Any] | None = None
    instance: Any | None = None  # the RemotePluginProxy once loaded
    enabled: bool = True
    last_executed: float = 0.0   # unix time of the last execute (LRU eviction order)
    manifest: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # scheduling's Requirements, computed once per load from ``manifest`` (this layer cannot
    # name the type); None: not loaded, computed when asked.
    requirements: Any = field(default=None, compare=False, repr=False)
    model: Manifest | None = field(default=None, compare=False, repr=False)
