"""Attach mode as the manager sees it: deploy/ implements it, host/ never imports deploy.

An attachment says where one plugin's workers run (docker compose, a Swarm stack): the manager
asks it for the ``WorkerHandle`` of a manifest instead of starting a container. Reading a
deployment folder is deploy's job too; ``cjm_docker.deploy`` registers its reader here when it is
imported, and the public ``cjm_docker.PluginManager`` imports it, so
``PluginManager.attach_deployment`` works without an arrow from host/ up to deploy/.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from cjm_docker.engine import Engine
from cjm_docker.errors import ConfigError
from cjm_docker.host.handle import WorkerHandle
from cjm_docker.manifest import Manifest


class Attachment(Protocol):
    """Where one plugin's deployed workers are (``cjm_docker.deploy.Attachment``)."""

    @property
    def plugin(self) -> str:
        """The plugin's manifest name (or its plugins.yaml name)."""

    def worker(self, manifest: Manifest, engine: Callable[[], Engine]) -> WorkerHandle:
        """The handle a proxy drives for ``manifest``'s plugin."""


class Deployment(NamedTuple):
    """What a deployment folder gives the manager: its manifests and one attachment each."""

    manifests_dir: Path
    attachments: Sequence[Attachment]


class DeploymentReader(Protocol):
    def __call__(self, folder: Path, *, stack: str | None, plugins: Sequence[str] | None,
                  **options: Any) -> Deployment: ...


_readers: list[DeploymentReader] = []


def register_deployment_reader(reader: DeploymentReader) -> None:
    """Called by ``cjm_docker.deploy`` at import (the last registration wins)."""
    _readers.append(reader)


def read_deployment(folder: Path, *, stack: str | None, plugins: Sequence[str] | None,
                    **options: Any) -> Deployment:
    """The deployment in ``folder``, read by deploy's registered reader.

    Raises:
        ConfigError: ``cjm_docker.deploy`` was never imported (only possible when the manager
            was imported from ``cjm_docker.host.manager`` directly).
    """
    if not _readers:
        raise ConfigError(f"Cannot attach the deployment in {folder}: attach mode lives in "
                          "cjm_docker.deploy, which this program has not imported.",
                          hint="Import PluginManager from cjm_docker (`from cjm_docker import "
                               "PluginManager`), or `import cjm_docker.deploy` first.")
    return _readers[-1](folder, stack=stack, plugins=plugins, **options)
