"""The journal: pending jobs resume exactly once after the host dies, finished results stay
readable, interrupted jobs are not silently re-run, one live queue per journal."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from test_queue_support import FakeManager, run

from cjm_docker.codec import decode_call, encode_call
from cjm_docker.errors import JournalError
from cjm_docker.queue import JobQueue, JobStatus
from cjm_docker.queue.journal import JobJournal

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

HOST = textwrap.dedent("""
    import asyncio, json, sys
    from pathlib import Path
    sys.path[:0] = [{here!r}, {repo!r}]
    from test_queue_support import FakeManager
    from cjm_docker.queue import JobQueue

    async def main(data, mode):
        manager = FakeManager(Path(data), record_file=Path(data) / "record.jsonl")
        queue = JobQueue(manager, max_concurrent_plugins=1)
        await queue.start()
        ids = []
        if mode == "blocked":      # one long job runs, ten wait behind it
            ids.append(await queue.submit("echo", job="blocker", sleep=60))
            for n in range(10):
                ids.append(await queue.submit("echo", job=f"job-{{n}}"))
        else:                      # a stream of short jobs, killed at some point
            for n in range(300):
                ids.append(await queue.submit("echo", job=f"job-{{n}}", sleep=0.002))
        print(json.dumps(ids), flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main(sys.argv[1], sys.argv[2]))
""").format(here=str(HERE), repo=str(REPO))


def _start_host(data: Path, mode: str) -> tuple[subprocess.Popen, list[str]]:
    proc = subprocess.Popen([sys.executable, "-c", HOST, str(data), mode],
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line, "the host process died before submitting"
    return proc, json.loads(line)


def _records(data: Path) -> list[str]:
    path = data / "record.jsonl"
    if not path.exists():
        return []
    return [json.loads(line)["job"] for line in path.read_text().splitlines()]


def _statuses(data: Path) -> dict[str, str]:
    with sqlite3.connect(data / "jobs.sqlite3") as conn:
        return dict(conn.execute("SELECT id, status FROM jobs"))


def test_killed_host_with_ten_pending_jobs_resumes_all_exactly_once(tmp_path):
    proc, ids = _start_host(tmp_path, "blocked")
    deadline = time.monotonic() + 10
    while _records(tmp_path) != ["blocker"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _statuses(tmp_path)[ids[0]] == "running"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert sorted(_statuses(tmp_path).values()) == ["pending"] * 10 + ["running"]

    manager = FakeManager(tmp_path, record_file=tmp_path / "record.jsonl")

    async def resume():
        queue = JobQueue(manager, max_concurrent_plugins=1)
        assert len(queue.get_state()["pending"]) == 10
        await queue.start()
        jobs = [await queue.wait_for_job(i, timeout=10) for i in ids]
        await queue.stop()
        return jobs

    jobs = run(resume())
    blocker, resumed = jobs[0], jobs[1:]
    assert blocker.status is JobStatus.FAILED and blocker.error_type == "JobInterruptedError"
    assert "retry_on_restart" in blocker.error
    assert [j.status for j in resumed] == [JobStatus.COMPLETED] * 10
    records = _records(tmp_path)
    assert records == ["blocker"] + [f"job-{n}" for n in range(10)]   # in order, once each


def test_killed_mid_stream_loses_nothing_and_runs_nothing_twice(tmp_path):
    proc, ids = _start_host(tmp_path, "stream")
    deadline = time.monotonic() + 10
    while len(_records(tmp_path)) < 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _records(tmp_path)
    assert 0 < len(before) < 300

    manager = FakeManager(tmp_path, record_file=tmp_path / "record.jsonl")

    async def resume():
        async with JobQueue(manager) as queue:
            return [await queue.wait_for_job(i, timeout=20) for i in ids]

    jobs = run(resume())
    records = _records(tmp_path)
    assert len(records) == len(set(records))                 # none ran twice
    completed = [j for j in jobs if j.status is JobStatus.COMPLETED]
    interrupted = [j for j in jobs if j.status is not JobStatus.COMPLETED]
    assert len(interrupted) <= 1                             # at most the one in flight
    assert all(j.error_type == "JobInterruptedError" for j in interrupted)
    assert len(completed) + len(interrupted) == 300          # none lost
    assert set(records) >= {j.kwargs["job"] for j in completed}


def test_retry_on_restart_requeues_an_interrupted_job_in_its_place(tmp_path):
    manager = FakeManager(tmp_path)
    journal = JobJournal(tmp_path / "jobs.sqlite3")
    journal.close()

    async def first():
        queue = JobQueue(manager)
        a = await queue.submit("echo", "a", retry_on_restart=True)
        b = await queue.submit("echo", "b")
        await queue.stop()
        return a, b

    a, b = run(first())
    with sqlite3.connect(tmp_path / "jobs.sqlite3") as conn:   # as if a host died mid-job
        conn.execute("UPDATE jobs SET status='running', attempts=1 WHERE id=?", (a,))

    async def second():
        async with JobQueue(manager, max_concurrent_plugins=1) as queue:
            return [await queue.wait_for_job(i, timeout=5) for i in (a, b)]

    ja, jb = run(second())
    assert ja.status is JobStatus.COMPLETED and ja.attempts == 2
    assert jb.status is JobStatus.COMPLETED
    assert [c.args[0] for c in manager.calls] == ["a", "b"]


def test_finished_results_are_readable_after_a_restart(tmp_path):
    manager = FakeManager(tmp_path)

    async def first():
        async with JobQueue(manager) as queue:
            ok = await queue.submit("echo", {"x": [1, 2]}, log="hello")
            bad = await queue.submit("echo", fail="broken")
            await queue.wait_for_job(bad)
            return ok, bad

    ok, bad = run(first())

    async def second():
        queue = JobQueue(manager, max_history=1)
        state = queue.get_state()
        jobs = queue.get_job(ok), await queue.wait_for_job(bad), queue.get_job_logs(ok)
        await queue.stop()
        return state, jobs

    state, (job_ok, job_bad, logs) = run(second())
    assert [h["id"] for h in state["history"]] == [bad]
    assert job_ok.status is JobStatus.COMPLETED
    assert job_ok.result == {"args": [{"x": [1, 2]}], "generation": 0}
    assert job_ok.args == ({"x": [1, 2]},) and job_ok.kwargs == {"log": "hello"}
    assert job_bad.status is JobStatus.FAILED and "broken" in job_bad.error
    assert job_bad.error_type == "PluginCallError"
    assert "hello" in logs


def test_a_second_live_queue_on_the_same_journal_is_refused(tmp_path):
    manager = FakeManager(tmp_path)
    first = JobQueue(manager)
    try:
        with pytest.raises(JournalError, match="in use"):
            JobQueue(manager)
    finally:
        run(first.stop())
    run(JobQueue(manager).stop())   # free again once the first stopped


def test_arguments_that_cannot_be_journaled_run_but_do_not_resume(tmp_path):
    manager = FakeManager(tmp_path)

    class Blob:
        pass

    async def first():
        queue = JobQueue(manager)
        job_id = await queue.submit("echo", Blob())
        path_job = await queue.submit("echo", Path("/data/x.wav"))
        await queue.stop()
        return job_id, path_job

    job_id, path_job = run(first())

    async def second():
        async with JobQueue(manager) as queue:
            return await queue.wait_for_job(job_id), await queue.wait_for_job(path_job)

    job, with_path = run(second())
    assert job.status is JobStatus.FAILED and "could not be journaled" in job.error
    assert with_path.status is JobStatus.COMPLETED
    assert manager.calls[0].args == (Path("/data/x.wav"),)


def test_call_encoding_round_trips_paths_and_flags_the_rest():
    args, kwargs, ok = encode_call((Path("/a"), 1, [Path("/b")]), {"p": Path("/c"), "n": None})
    assert ok
    assert decode_call(args, kwargs) == ((Path("/a"), 1, [Path("/b")]), {"p": Path("/c"),
                                                                          "n": None})
    assert not encode_call((object(),), {})[2]


def test_a_failed_journal_refuses_submits_loudly(tmp_path):
    manager = FakeManager(tmp_path)

    async def scenario():
        queue = JobQueue(manager)
        await queue.start()
        await queue.wait_for_job(await queue.submit("echo", 1))
        queue._journal.failure = JournalError("disk full", path="x")
        with pytest.raises(JournalError, match="disk full"):
            await queue.submit("echo", 2)
        assert queue.get_state()["pending"] == []
        queue._journal.failure = None
        await queue.stop()

    run(scenario())


def test_journal_file_is_wal_and_closed_cleanly(tmp_path):
    manager = FakeManager(tmp_path)
    run(JobQueue(manager).stop())
    with sqlite3.connect(tmp_path / "jobs.sqlite3") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert not os.path.exists(tmp_path / "jobs.sqlite3-wal") or \
        os.path.getsize(tmp_path / "jobs.sqlite3-wal") == 0
