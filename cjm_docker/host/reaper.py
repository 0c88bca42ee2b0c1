"""Garbage collection by label: containers whose owning host process is gone.

A live host's containers are never touched: ownership is the owner's pid *and* start time.
Containers from another machine (a shared engine) are left alone unless asked.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from cjm_docker import labels
from cjm_docker.engine import ContainerState, Engine
from cjm_docker.owner import owner_alive


@dataclass(frozen=True)
class Orphan:
    """A container gc removed (or would remove)."""

    container: ContainerState
    reason: str


#: Every kind of container cjm-docker makes: workers, and the build's one-off helpers.
ROLES = (labels.ROLE_PLUGIN, labels.ROLE_INTROSPECT, labels.ROLE_COMMIT, labels.ROLE_BUILD)

#: Containers that compose or Swarm run: their orchestrator owns them, never a host process
#: (an image built before commits blanked their helper's labels may still name one).
DEPLOYMENT_LABELS = ("com.docker.compose.project", "com.docker.swarm.service.id")


def find_orphans(engine: Engine, *, include_foreign: bool = False) -> list[Orphan]:
    """Managed containers (workers and build helpers) whose owner process is dead."""
    found = []
    for state in engine.list_containers({labels.MANAGED: "true"}):
        role = state.labels.get(labels.ROLE)
        if role not in ROLES or any(state.labels.get(k) for k in DEPLOYMENT_LABELS):
            continue
        alive = owner_alive(state.labels)
        if alive is True:
            continue
        if alive is None and not state.labels.get(labels.OWNER_PID) and state.status == "created":
            # A commit helper made before helpers carried owners: never started, and only a
            # build that died mid-commit leaves one (it inherits the image's role label).
            found.append(Orphan(state, "a build helper left by an interrupted install"))
            continue
        if alive is None:
            if not include_foreign or not state.labels.get(labels.OWNER_PID):
                continue
            reason = f"owner on another machine ({state.labels.get(labels.OWNER_HOST)})"
        else:
            reason = f"owner process {state.labels.get(labels.OWNER_PID)} is gone"
        found.append(Orphan(state, reason))
    return found


def reap(engine: Engine, *, dry_run: bool = False, include_foreign: bool = False) -> list[Orphan]:
    """Remove orphaned containers and their runtime folders; returns what was (or would be)
    removed."""
    orphans = find_orphans(engine, include_foreign=include_foreign)
    if not dry_run:
        for orphan in orphans:
            engine.remove_container(orphan.container.id, force=True)
            folder = orphan.container.labels.get(labels.RUNTIME_DIR)
            if folder and Path(folder).name.startswith("cjm-"):
                shutil.rmtree(folder, ignore_errors=True)
    return orphans
