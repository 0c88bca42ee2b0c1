"""A classic build killed mid-way, on the real engine: `cjm-ctl gc` finds what it left.

The classic builder runs each step in an intermediate container that carries the image's labels
(``io.cjm.managed``, a role) and no owner. A build process is SIGKILLed while its second RUN
step runs. This engine then removes the killed step's container itself; the finished step's
container stays only where the engine cannot finish the build's clean-up (it restarted, a
removal failed), which the build here asks for by turning the builder's own removal off
(``rm``/``forcerm``), so that a real leftover exists. Then: gc lists it, removes it and the
build's journal, and leaves alone a second build that still runs. With the engine's own
clean-up on, gc finds nothing of the killed build to remove and drops its journal.

Only this test's containers are removed: its journals live in a private CJM_STATE_DIR, and the
removal asked of gc is the journal-judged part (``reap_build_leftovers``) alone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cjm_docker import labels
from cjm_docker.engine import ContainerState, Engine
from cjm_docker.host.reaper import reap_build_leftovers
from cjm_docker.images.build_journal import JournalEntry, read_journals

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]

# argv: base image, "keep" (the builder's own removal off) or "rm"
BUILD = """
import io, sys, tarfile
from cjm_docker.engine import Engine
from cjm_docker.images.build_journal import journaled_build

dockerfile = f"FROM {sys.argv[1]}\\nRUN echo one > /one\\nRUN sleep 600\\n".encode()
context = io.BytesIO()
with tarfile.open(fileobj=context, mode="w") as tar:
    info = tarfile.TarInfo("Dockerfile")
    info.size = len(dockerfile)
    tar.addfile(info, io.BytesIO(dockerfile))
context.seek(0)
engine = Engine()
if sys.argv[2] == "keep":
    build = engine.api.build
    engine.api.build = lambda **kw: build(**{**kw, "rm": False, "forcerm": False})
journaled_build(engine, context, nocache=True)
"""


class Build:
    """A build process in the background and the journal it keeps."""

    def __init__(self, state: Path, base: str, mode: str) -> None:
        self.state = state
        before = {j.path for j in read_journals()}
        env = {**os.environ, "CJM_STATE_DIR": str(state), "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen([sys.executable, "-c", BUILD, base, mode], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.journal = self._wait(lambda: next(
            (j for j in read_journals() if j.path not in before), None), "its journal")

    def entry(self) -> JournalEntry:
        return next(j for j in read_journals() if j.path == self.journal.path)

    def containers(self, engine: Engine) -> list[ContainerState]:
        ids = self.entry().containers if self.journal.path.exists() else self.journal.containers
        return [c for c in engine.list_containers() if any(c.id.startswith(i) for i in ids)]

    def wait_for_second_step(self, engine: Engine) -> None:
        def running() -> bool | None:
            self.journal = self.entry()
            if len(self.journal.containers) < 2:
                return None
            return any(c.running for c in self.containers(engine)) or None
        self._wait(running, "the second step running")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def _wait(self, found: Callable[[], object], what: str, timeout: float = 240) -> object:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = found()
            if value:
                return value
            if self.proc.poll() is not None:
                out = self.proc.stdout.read().decode() if self.proc.stdout else ""
                raise AssertionError(f"the build ended before {what}:\n{out}")
            time.sleep(0.1)
        raise AssertionError(f"the build never reached {what}")


def wait_stopped(build: Build, engine: Engine, timeout: float = 60) -> list[ContainerState]:
    """The build's containers once the engine has stopped its killed step."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = build.containers(engine)
        if not any(c.running or c.status == "removing" for c in left):
            return left
        time.sleep(0.2)
    raise AssertionError("the engine never stopped the killed build's step")


@pytest.fixture
def builds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: Engine,
           python_base: str) -> Iterator[Callable[[str], Build]]:
    monkeypatch.setenv("CJM_STATE_DIR", str(tmp_path / "state"))
    started: list[Build] = []

    def start(mode: str) -> Build:
        started.append(Build(tmp_path / "state", python_base, mode))
        return started[-1]

    yield start
    for build in started:
        if build.proc.poll() is None:
            build.kill()
        for state in build.containers(engine):
            engine.remove_container(state.id, force=True)


def test_gc_removes_what_a_killed_build_left_and_nothing_of_a_live_one(
        builds: Callable[[str], Build], engine: Engine, cjm_ctl) -> None:
    killed = builds("keep")
    killed.wait_for_second_step(engine)
    killed.kill()
    left = wait_stopped(killed, engine)
    assert left, "nothing was left behind to collect"
    for state in left:   # what `gc` could not see before: io.cjm labels, no owner
        assert state.labels.get(labels.MANAGED) == "true"
        assert not state.labels.get(labels.OWNER_PID)

    live = builds("keep")
    live.wait_for_second_step(engine)
    listed = cjm_ctl("gc", "--dry-run")
    assert listed.code == 0, listed.text
    for state in left:
        assert state.name in listed.out
    assert "intermediate" in listed.out
    assert {c.name for c in live.containers(engine)}.isdisjoint(listed.out.split())

    removed = reap_build_leftovers(engine)
    assert sorted(o.container.id for o in removed) == sorted(s.id for s in left)
    assert killed.containers(engine) == [] and not killed.journal.path.exists()
    assert any(c.running for c in live.containers(engine)) and live.journal.path.exists()

    live.kill()                      # once it is dead, what it left goes too
    wait_stopped(live, engine)
    reap_build_leftovers(engine)
    assert live.containers(engine) == [] and not live.journal.path.exists()


def test_with_the_engines_own_clean_up_gc_only_drops_the_journal(
        builds: Callable[[str], Build], engine: Engine) -> None:
    killed = builds("rm")
    killed.wait_for_second_step(engine)
    killed.kill()
    wait_stopped(killed, engine)
    reap_build_leftovers(engine)
    assert killed.containers(engine) == [] and not killed.journal.path.exists()
