"""StepRunner: each step's helper container is removed off the build's path, and all are gone
when the build returns (a fake engine: no daemon)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from cjm_docker.engine import BuildEvent
from cjm_docker.errors import BuildError
from cjm_docker.images.steps import StepRunner
from tests.unit.images.test_images_layers import _layers


class StepEngine:
    """Commits each step at once; removing a container waits until the test lets it."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.removed: list[str] = []
        self.commits = 0
        self.fail_at = fail_at
        self.release = threading.Event()
        self.removing_on: set[str] = set()

    def ensure_volume(self, name: str, labels: dict[str, str]) -> None:
        pass

    def image_exists(self, ref: str) -> bool:
        return False

    def find_images(self, label: str) -> list[dict]:
        return []

    def tag_image(self, image: str, ref: str) -> None:
        pass

    def commit_step(self, image, command, build_dir, cache, labels, timeout, *, remove,
                    on_status, **_: object) -> str:
        self.commits += 1
        container = f"c{self.commits}"
        on_status("running")
        on_status("committing")
        remove(container)
        if self.commits == self.fail_at:
            raise BuildError("the step exited with code 1")
        return f"sha256:{self.commits}"

    def remove_container(self, container_id: str, *, force: bool = True) -> bool:
        self.removing_on.add(threading.current_thread().name)
        self.release.wait(timeout=5)
        self.removed.append(container_id)
        return True


def _runner(engine: StepEngine, tmp_path: Path, events: list[BuildEvent]) -> StepRunner:
    return StepRunner(engine, work_root=tmp_path, package_cache="cache",  # type: ignore[arg-type]
                      stack_repository="stack", on_event=events.append)


def test_the_next_step_runs_while_the_last_container_is_removed(tmp_path: Path) -> None:
    engine, events = StepEngine(), []
    layers = _layers(threshold_mb=0.0001)   # every locked wheel large: a stack step too
    steps = len(layers.steps)
    assert steps >= 2
    timer = threading.Timer(0.5, engine.release.set)
    timer.start()
    top = _runner(engine, tmp_path, events).build(layers, "runtime:1", plugin="p")
    assert top == f"sha256:{steps}"
    # every step committed before the first removal was let through; all removed on return
    assert engine.commits == steps
    assert sorted(engine.removed) == sorted(f"c{i}" for i in range(1, steps + 1))
    assert engine.removing_on and threading.current_thread().name not in engine.removing_on
    phases = [e.text for e in events if e.kind == "status"]
    assert f"{layers.steps[0].kind}: committing" in phases


def test_a_failed_step_still_removes_its_container_before_raising(tmp_path: Path) -> None:
    engine, events = StepEngine(fail_at=2), []
    engine.release.set()
    with pytest.raises(BuildError):
        _runner(engine, tmp_path, events).build(_layers(threshold_mb=0.0001), "runtime:1",
                                                plugin="p")
    assert sorted(engine.removed) == ["c1", "c2"]
