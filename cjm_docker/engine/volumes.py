"""Named volumes (the build steps' package cache lives in one)."""

from __future__ import annotations

from cjm_docker.engine.connection import Connection
from cjm_docker.engine.translation import translated


class VolumeCalls(Connection):
    """The engine's volume calls."""

    def ensure_volume(self, name: str, labels: dict[str, str]) -> None:
        """Create the named volume unless it exists (creating an existing one is a no-op)."""
        with translated(f"Cannot create volume {name}"):
            self.api.create_volume(name=name, labels=labels)

    def remove_volume(self, name: str) -> bool:
        """Remove a named volume; False when it was not there."""
        with translated(f"Cannot remove volume {name}", absent=(404,)) as outcome:
            self.api.remove_volume(name, force=True)
        return outcome.status != 404
