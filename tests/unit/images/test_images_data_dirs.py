"""The record of data dirs (``data-dirs.txt``, read by `gc --images`) stays as small as what
gc needs: one line per data dir that still holds a manifest, however many installs came and went,
and no install's line is lost when several finish at once."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

from cjm_docker.config import CjmConfig
from cjm_docker.images.gc import known_data_dirs
from cjm_docker.images.state import data_dirs_file, record_data_dir, recorded_data_dirs


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CJM_STATE_DIR", str(tmp_path / "state"))
    return tmp_path


def installed(root: Path, name: str) -> Path:
    """A data dir whose install wrote a manifest."""
    data = root / name / "data"
    (data / "manifests").mkdir(parents=True)
    (data / "manifests" / "plugin.json").write_text("{}")
    return data


def lines() -> list[str]:
    return data_dirs_file().read_text().splitlines()


def test_one_line_per_data_dir_however_it_is_spelt(state: Path) -> None:
    data = installed(state, "a")
    (state / "link").symlink_to(data)
    for spelling in (data, data / ".", state / "a" / "x" / ".." / "data", state / "link"):
        record_data_dir(spelling)
    assert lines() == [str(data.resolve())]


def test_dirs_gone_or_emptied_are_pruned(state: Path) -> None:
    gone, emptied, kept = (installed(state, n) for n in ("gone", "emptied", "kept"))
    for data in (gone, emptied, kept):
        record_data_dir(data)
    assert len(lines()) == 3
    (gone / "manifests" / "plugin.json").unlink()
    (gone / "manifests").rmdir()
    gone.rmdir()
    (emptied / "manifests" / "plugin.json").unlink()   # its plugins were removed
    assert recorded_data_dirs() == [kept.resolve()]
    assert lines() == [str(kept.resolve())]            # gc's read prunes the file too


def test_the_record_does_not_grow_with_installs_that_came_and_went(state: Path) -> None:
    kept = installed(state, "kept")
    record_data_dir(kept)
    for n in range(200):
        data = installed(state, f"tmp{n}")
        record_data_dir(data)
        (data / "manifests" / "plugin.json").unlink()
    assert len(lines()) <= 2
    assert recorded_data_dirs() == [kept.resolve()]


def test_gc_knows_its_own_the_named_and_the_recorded_dirs(state: Path) -> None:
    recorded, named = installed(state, "recorded"), state / "named"
    record_data_dir(recorded)
    config = CjmConfig(data_dir=state / "own", runtime_dir=state / "run")
    assert known_data_dirs(config, [named]) == sorted(
        [(state / "own").resolve(), named.resolve(), recorded.resolve()])


def _record_many(state_dir: str, root: str, first: int) -> None:
    os.environ["CJM_STATE_DIR"] = state_dir
    for n in range(first, first + 10):
        record_data_dir(Path(root) / f"p{n}" / "data")


def test_installs_finishing_together_are_all_recorded(state: Path) -> None:
    for n in range(40):
        installed(state, f"p{n}")
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_record_many,
                               args=(str(state / "state"), str(state), first))
               for first in range(0, 40, 10)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    assert len(lines()) == 40


def test_a_read_only_state_dir_never_fails_an_install(state: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = state / "file"
    blocker.write_text("")
    monkeypatch.setenv("CJM_STATE_DIR", str(blocker / "state"))   # cannot be made
    record_data_dir(installed(state, "a"))
    assert recorded_data_dirs() == []
