"""Garbage collection by label: containers whose owning host process is gone.

A live host's containers are never touched: ownership is the owner's pid *and* start time.
Containers from another machine (a shared engine) are left alone unless asked. The classic
builder's intermediate containers carry no owner label: their owner is in the build's journal
(``images/build_journal.py``), and they go once the process that ran the build is dead.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from cjm_docker import labels
from cjm_docker.engine import ContainerState, Engine
from cjm_docker.images.build_journal import abandoned_journals
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

#: States of a container nothing runs in any more (a journal's container in another state is
#: still being stopped by the engine: the next gc takes it).
STOPPED = ("created", "exited", "dead")


def find_orphans(engine: Engine, *, include_foreign: bool = False) -> list[Orphan]:
    """Managed containers (workers, build helpers, a dead build's intermediate containers)
    whose owner process is dead."""
    found = _labelled_orphans(engine, include_foreign=include_foreign)
    return _with(found, _build_leftovers(engine)[0])


def _with(found: list[Orphan], more: list[Orphan]) -> list[Orphan]:
    seen = {orphan.container.id for orphan in found}
    return found + [orphan for orphan in more if orphan.container.id not in seen]


def _labelled_orphans(engine: Engine, *, include_foreign: bool) -> list[Orphan]:
    """Managed containers whose owner labels name a dead process."""
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


def _build_leftovers(engine: Engine) -> tuple[list[Orphan], list[Path]]:
    """The stopped containers that journals of dead builds on this engine name, and the
    journals that have nothing left once those are removed."""
    journals = abandoned_journals(engine.endpoint)
    if not journals:
        return [], []
    found: list[Orphan] = []
    waiting: set[Path] = set()
    for state in engine.list_containers():
        journal = next((j for j in journals if j.names(state.id)), None)
        if journal is None or state.labels.get(labels.OWNER_PID):
            continue   # an owner label: some other helper's, whatever its id begins with
        if state.status not in STOPPED:
            waiting.add(journal.path)
            continue
        pid = journal.owner.get(labels.OWNER_PID)
        found.append(Orphan(state, f"intermediate container of a build whose process {pid} "
                                   "is gone"))
    return found, [j.path for j in journals if j.path not in waiting]


def reap(engine: Engine, *, dry_run: bool = False, include_foreign: bool = False) -> list[Orphan]:
    """Remove orphaned containers and their runtime folders (and the journals of dead builds
    once their containers are gone); returns what was (or would be) removed."""
    leftovers, finished = _build_leftovers(engine)
    orphans = _with(_labelled_orphans(engine, include_foreign=include_foreign), leftovers)
    if not dry_run:
        _remove(engine, orphans, finished)
    return orphans


def reap_build_leftovers(engine: Engine, *, dry_run: bool = False) -> list[Orphan]:
    """``reap``, for the intermediate containers of dead builds (and their journals) only."""
    leftovers, finished = _build_leftovers(engine)
    if not dry_run:
        _remove(engine, leftovers, finished)
    return leftovers


def _remove(engine: Engine, orphans: list[Orphan], journals: list[Path]) -> None:
    for orphan in orphans:
        engine.remove_container(orphan.container.id, force=True)
        folder = orphan.container.labels.get(labels.RUNTIME_DIR)
        if folder and Path(folder).name.startswith("cjm-"):
            shutil.rmtree(folder, ignore_errors=True)
    for journal in journals:
        journal.unlink(missing_ok=True)
