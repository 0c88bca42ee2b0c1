"""Deployments: the same images run by docker compose or a Swarm stack, and attach mode.

    compose.py        manifests -> compose document (pure data; one service per plugin)
    bundle.py         the deployment folder: compose file, GPU layer, tokens, manifests
    orchestrators.py  `docker compose` / `docker stack` for `cjm-ctl up` and `down`
    endpoints.py      where a plugin's replicas are: URLs, tasks.<service> names, Swarm tasks
    replica_set.py    ReplicaSet: the replicas as this host sees them; choice, retry policy, config
    replicas.py       ReplicaSetClient: a WorkerClient whose calls spread over a ReplicaSet
    attach.py         Attachment + AttachedWorker: PluginManager drives deployed workers

Errors are the package's usual ones (``cjm_docker.errors``): ``SpecError`` for colliding
services or ports, ``ConfigError`` for a bad deployment folder or token, ``EngineError`` when a
docker CLI fails, ``PluginStartError`` / ``WorkerCrashedError`` / ``WorkerUnreachable`` at run time.
"""

from __future__ import annotations

from cjm_docker.deploy.attach import AttachedWorker, Attachment, attachments_from_bundle
from cjm_docker.deploy.bundle import Bundle, BundlePlugin, read_bundle, write_bundle
from cjm_docker.deploy.compose import (
    ComposeOptions,
    ServicePlan,
    compose_document,
    dump_yaml,
    gpu_override_document,
    plan_services,
)
from cjm_docker.deploy.endpoints import Endpoint, SwarmServiceSource, UrlSource
from cjm_docker.deploy.replicas import ReplicaSetClient

__all__ = [
    "AttachedWorker",
    "Attachment",
    "Bundle",
    "BundlePlugin",
    "ComposeOptions",
    "Endpoint",
    "ReplicaSetClient",
    "ServicePlan",
    "SwarmServiceSource",
    "UrlSource",
    "attachments_from_bundle",
    "compose_document",
    "dump_yaml",
    "gpu_override_document",
    "plan_services",
    "read_bundle",
    "write_bundle",
]
