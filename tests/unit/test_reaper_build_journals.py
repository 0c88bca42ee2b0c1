"""`cjm-ctl gc` and the classic builder's intermediate containers: they carry no owner label, so
a build journals them (images/build_journal.py), and gc removes only stopped ones that a journal
of this machine's dead process names, on the same engine (the real kill: the integration test
test_images_gc_builds.py)."""

from __future__ import annotations

import io
import json
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pytest

from cjm_docker import labels
from cjm_docker.engine_types import ContainerState
from cjm_docker.errors import BuildError, EngineUnavailableError
from cjm_docker.host.reaper import find_orphans, reap
from cjm_docker.images.build_journal import journaled_build, journals_dir, read_journals
from cjm_docker.owner import current_owner
from tests.fakes.engine import FakeEngine

DEAD = {labels.OWNER_HOST: socket.gethostname(), labels.OWNER_PID: str(os.getpid()),
        labels.OWNER_STARTED: "1.00"}   # this pid, another start time: a process long gone
FOREIGN = {**DEAD, labels.OWNER_HOST: "another-machine"}
BASE = {labels.MANAGED: "true", labels.ROLE: "base"}   # what an intermediate container carries


@pytest.fixture(autouse=True)
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CJM_STATE_DIR", str(tmp_path / "state"))
    return tmp_path


def journal(owner: dict[str, str], *ids: str, engine: str = "fake://engine") -> Path:
    folder = journals_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{len(list(folder.iterdir()))}.journal"
    path.write_text("\n".join([json.dumps({"owner": owner, "engine": engine}), *ids]) + "\n")
    return path


def container(cid: str, status: str = "exited", extra: dict[str, str] | None = None) -> ContainerState:
    return ContainerState(id=cid, name=f"name-{cid[:4]}", status=status,
                          running=status == "running", exit_code=None, oom_killed=False,
                          labels={**BASE, **(extra or {})})


def engine_with(*states: ContainerState) -> FakeEngine:
    return FakeEngine(containers=states)


def test_stopped_containers_of_a_dead_build_go_with_their_journal() -> None:
    path = journal(DEAD, "aaaaaaaaaaaa", "bbbbbbbbbbbb")
    engine = engine_with(container("aaaaaaaaaaaa" + "0" * 52),
                         container("bbbbbbbbbbbb" + "1" * 52, status="created"),
                         container("cccccccccccc" + "2" * 52))   # named by no journal
    orphans = reap(engine)
    assert sorted(o.container.id[:12] for o in orphans) == ["aaaaaaaaaaaa", "bbbbbbbbbbbb"]
    assert "process" in orphans[0].reason and "gone" in orphans[0].reason
    assert list(engine.containers) == ["cccccccccccc" + "2" * 52]
    assert not path.exists()


def test_a_dry_run_removes_nothing() -> None:
    path = journal(DEAD, "aaaaaaaaaaaa")
    engine = engine_with(container("aaaaaaaaaaaa" + "0" * 52))
    assert len(reap(engine, dry_run=True)) == 1
    assert engine.removed == [] and path.exists()


def test_a_running_step_waits_for_the_next_gc_and_keeps_the_journal() -> None:
    path = journal(DEAD, "aaaaaaaaaaaa")
    engine = engine_with(container("aaaaaaaaaaaa" + "0" * 52, status="running"))
    assert reap(engine) == [] and path.exists()


@pytest.mark.parametrize("why", ["live owner", "other machine", "other engine", "owner label"])
def test_nothing_that_is_not_provably_a_dead_builds_is_touched(why: str) -> None:
    cid = "aaaaaaaaaaaa" + "0" * 52
    extra = DEAD if why == "owner label" else None   # a helper of its own: judged by its labels
    owner = {"live owner": current_owner().labels(), "other machine": FOREIGN}.get(why, DEAD)
    path = journal(owner, cid[:12], engine="tcp://elsewhere:2376" if why == "other engine"
                   else "fake://engine")
    engine = engine_with(container(cid, extra=extra))
    assert [o for o in find_orphans(engine) if "build whose" in o.reason] == []
    reap(engine)
    assert path.exists() or why == "owner label"


def test_journals_of_dead_builds_with_nothing_left_are_dropped() -> None:
    path = journal(DEAD, "aaaaaaaaaaaa")
    assert reap(engine_with()) == [] and not path.exists()


def test_a_broken_journal_is_skipped() -> None:
    journals_dir().mkdir(parents=True)
    (journals_dir() / "x.journal").write_text("not json\n")
    (journals_dir() / "y.journal").write_text("")
    assert list(read_journals()) == []


class BuildingEngine(FakeEngine):
    """A build that names its step containers, then ends as ``outcome`` says."""

    def __init__(self, outcome: BaseException | None) -> None:
        super().__init__()
        self.outcome = outcome

    def build(self, context: IO[bytes], *, on_container: Callable[[str], None] | None = None,
              **kwargs: Any) -> str:
        assert on_container is not None
        on_container("aaaaaaaaaaaa")
        on_container("bbbbbbbbbbbb")
        if self.outcome is not None:
            raise self.outcome
        return "sha256:made"


@pytest.mark.parametrize(("outcome", "kept"), [
    (None, False), (BuildError("step 2 failed"), False),     # the engine's verdict
    (KeyboardInterrupt(), True), (EngineUnavailableError("lost it"), True)])
def test_a_build_keeps_its_journal_only_when_it_did_not_end_by_the_engines_verdict(
        outcome: BaseException | None, kept: bool) -> None:
    engine = BuildingEngine(outcome)
    try:
        journaled_build(engine, io.BytesIO(b""))  # type: ignore[arg-type]
    except BaseException as exc:  # noqa: BLE001 - the outcome itself
        assert exc is outcome
    journals = list(read_journals())
    assert len(journals) == int(kept)
    if kept:
        assert journals[0].containers == ("aaaaaaaaaaaa", "bbbbbbbbbbbb")
        assert journals[0].owner == current_owner().labels()
        assert journals[0].engine == "fake://engine"
