"""cjm-docker: every plugin in its own container, one host API.

Host names are imported lazily so that the worker, which is baked into plugin images, imports
this package without the host's dependencies (docker, httpx, typer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cjm_docker._version import __version__
from cjm_docker.interface import FileBackedDTO, PluginInterface

if TYPE_CHECKING:  # what type checkers see behind the lazy names below (never run)
    from cjm_docker.errors import CjmDockerError
    from cjm_docker.host.manager import PluginManager
    from cjm_docker.host.proxy import RemotePluginProxy
    from cjm_docker.metadata import PluginMeta
    from cjm_docker.queue import JobQueue

__all__ = [
    "__version__",
    "FileBackedDTO",
    "PluginInterface",
    "PluginManager",
    "PluginMeta",
    "RemotePluginProxy",
    "JobQueue",
    "CjmDockerError",
]

_LAZY = {
    "PluginManager": "cjm_docker.host.manager",
    "PluginMeta": "cjm_docker.metadata",
    "RemotePluginProxy": "cjm_docker.host.proxy",
    "JobQueue": "cjm_docker.queue",
    "CjmDockerError": "cjm_docker.errors",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cjm_docker' has no attribute {name!r}")
    import importlib

    if name == "PluginManager":  # attach mode (deploy/) registers itself with the host
        importlib.import_module("cjm_docker.deploy")
    return getattr(importlib.import_module(module), name)
