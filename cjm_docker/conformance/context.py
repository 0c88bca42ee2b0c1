"""The state a conformance run shares between its checks: one plugin, one manager session."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from cjm_docker.host.manager import PluginManager
from cjm_docker.host.proxy import RemotePluginProxy
from cjm_docker.metadata import PluginMeta
from cjm_docker.spec.plugins_file import SampleCall


class PluginState(Enum):
    """Where the plugin under test is; checks that need a live plugin skip otherwise."""

    NOT_STARTED = "not started"   # before the health check (or its start failed)
    RUNNING = "running"           # its container answers
    UNLOADED = "unloaded"         # cleanup ran and removed the container
    KILLED = "killed"             # removed at once after a check timed out

    @property
    def live(self) -> bool:
        return self is PluginState.RUNNING


def exchange_files(folder: Path) -> set[str]:
    """Every file under the exchange folder (relative paths)."""
    if not folder.is_dir():
        return set()
    return {os.path.relpath(os.path.join(root, name), folder)
            for root, _, names in os.walk(folder) for name in names}


@dataclass
class ConformanceContext:
    """What the checks of one plugin share.

    Attributes:
        manager: owns the session whose containers the leftovers check looks for.
        meta: the plugin's discovered manifest.
        samples: the calls plugins.yaml declares for it.
        proxy: the running plugin (set by the health check).
        schema: its config schema as it reports it; ``schema_valid`` whether it is one.
        config: the config it was initialized with.
        killed_by: the check whose timeout had the container removed.
        exchange_before: the exchange folder's files before the run.
    """

    manager: PluginManager
    meta: PluginMeta
    samples: list[SampleCall]
    proxy: RemotePluginProxy | None = None
    state: PluginState = PluginState.NOT_STARTED
    schema: dict[str, Any] | None = None
    schema_valid: bool = False
    initialized: bool = False
    config: dict[str, Any] = field(default_factory=dict)
    killed_by: str | None = None
    exchange_before: set[str] = field(default_factory=set)

    @property
    def name(self) -> str:
        return self.meta.name

    def adopt(self, proxy: RemotePluginProxy) -> None:
        """Hand a started proxy to the manager, so its calls, unload and session apply."""
        self.proxy = proxy
        self.meta.instance = proxy
        self.manager.plugins[self.meta.name] = self.meta
        self.state = PluginState.RUNNING

    def kill(self, check: str) -> None:
        """Remove the container at once (a check timed out); idempotent."""
        proxy, self.proxy = self.proxy, None
        self.manager.plugins.pop(self.meta.name, None)
        self.meta.instance = None
        if proxy is not None:
            proxy.kill()
        if self.state is PluginState.RUNNING:
            self.state, self.killed_by = PluginState.KILLED, check
