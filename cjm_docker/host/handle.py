"""What a proxy needs from wherever its worker runs: a container we start, or one we attach to."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from cjm_docker.errors import CjmDockerError
from cjm_docker.gpu_access import GpuRequest
from cjm_docker.host.channel import WorkerChannel


class WorkerHandle(Protocol):
    """A worker's lifecycle, as ``RemotePluginProxy`` drives it.

    ``PluginContainer`` (this host starts the container) and the attach-mode handle (compose or
    Swarm started it) both satisfy it.
    """

    name: str

    def start(self, gpus: GpuRequest | None = None) -> WorkerChannel:
        """Make the worker ready and return a client for it."""

    def visible_roots(self) -> list[Path]:
        """Folders whose files the worker can open by the same absolute path."""

    def exchange_folder(self) -> Path | None:
        """Where files in transit to this worker are placed (seen at the same path inside);
        None: the data dir's shared exchange folder (deployments)."""

    def crash_error(self, during: str) -> CjmDockerError | None:
        """The error explaining a broken connection, or None when the worker still runs."""

    def log_tail(self, lines: int = 40) -> str:
        """The worker's last lines."""

    def stop(self, grace: float | None = None) -> None:
        """Stop the worker (gracefully) and release it."""

    def remove(self) -> None:
        """Release the worker at once."""
