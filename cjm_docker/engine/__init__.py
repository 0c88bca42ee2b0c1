"""The one package that talks to Docker.

Everything else speaks in the small dataclasses of ``engine_types`` (``ContainerSpec``,
``ContainerState``, ``BuildEvent``), sees the engine as the ``ContainerEngine`` protocol, and
gets ``cjm_docker.errors`` exceptions: docker SDK and requests exceptions are translated at one
choke point (``translation.translated``) and re-raised ``from`` the original.

One module a group of calls, each a class on the connection; ``Engine`` is all of them:

    translation   the one choke point for foreign exceptions
    connection    the client (DOCKER_HOST, context, socket), version, info
    documents     the engine's JSON read into engine_types (pure)
    containers    create with secure defaults, start, inspect, list, stop, remove, run once
    monitoring    logs, stats, die/oom events
    images        inspect, list, tag, remove, pull, import a root filesystem
    builds        the classic builder and its log tail
    commits       config-only images and run-and-commit build steps
    volumes       named volumes
    swarm         service tasks, nodes, network addresses (read-only)
"""

from __future__ import annotations

from cjm_docker.engine.builds import BuildCalls
from cjm_docker.engine.commits import CommitCalls, committed_labels
from cjm_docker.engine.monitoring import MonitoringCalls
from cjm_docker.engine.swarm import SwarmCalls
from cjm_docker.engine.volumes import VolumeCalls
from cjm_docker.engine_types import (  # re-exported: callers import them from here too
    BindMount,
    BuildEvent,
    ContainerEngine,
    ContainerSpec,
    ContainerState,
    ServiceTask,
    split_reference,
)

__all__ = ["BindMount", "BuildEvent", "ContainerEngine", "ContainerSpec", "ContainerState",
           "Engine", "ServiceTask", "committed_labels", "split_reference"]


class Engine(CommitCalls, BuildCalls, MonitoringCalls, VolumeCalls, SwarmCalls):
    """A connection to one Docker engine, with every call cjm-docker makes of it.

    Args:
        client: an existing ``docker.DockerClient``; by default the engine the docker CLI
            would use (``DOCKER_HOST``, else the active docker context, else the local socket).
    """
