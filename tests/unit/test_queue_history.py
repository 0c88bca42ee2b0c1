"""History: bounded in memory and on disk, wait_for_job never hangs, job-scoped logs, and the
get_state shape UIs read."""

from __future__ import annotations

import asyncio

import pytest
from test_queue_support import FakeManager, run

from cjm_docker.errors import JobWaitTimeoutError, UnknownJobError
from cjm_docker.queue import JobQueue, JobStatus, LoopLagMonitor


@pytest.mark.parametrize("max_history", [0, 1])
def test_wait_for_job_never_hangs_whatever_max_history(tmp_path, max_history):
    """0.0.x deleted a completion event before setting it with a small history (defect 15)."""
    manager = FakeManager(tmp_path)

    async def scenario():
        async with JobQueue(manager, max_history=max_history) as queue:
            ids = [await queue.submit("echo", n, sleep=0.01 * (n % 3)) for n in range(20)]
            waiters = [asyncio.create_task(queue.wait_for_job(i, timeout=5)) for i in ids]
            jobs = await asyncio.gather(*waiters)
            again = [await queue.wait_for_job(i, timeout=1) for i in ids]  # after eviction
            return jobs, again, queue.get_state()

    jobs, again, state = run(scenario())
    assert [j.result["args"] for j in jobs] == [[n] for n in range(20)]
    assert [j.status for j in again] == [JobStatus.COMPLETED] * 20
    assert [j.result for j in again] == [j.result for j in jobs]
    assert len(state["history"]) == max_history


def test_wait_for_unknown_job_and_timeout(tmp_path):
    manager = FakeManager(tmp_path)

    async def scenario():
        async with JobQueue(manager) as queue:
            with pytest.raises(UnknownJobError) as unknown:
                await queue.wait_for_job("nope")
            job_id = await queue.submit("echo", sleep=0.5)
            with pytest.raises(JobWaitTimeoutError) as timed_out:
                await queue.wait_for_job(job_id, timeout=0.05)
            return unknown.value, timed_out.value

    unknown, timed_out = run(scenario())
    assert isinstance(unknown, ValueError)          # what 0.0.x raised
    assert isinstance(timed_out, TimeoutError)


def test_history_is_bounded_in_memory_and_on_disk(tmp_path):
    manager = FakeManager(tmp_path)

    async def scenario():
        queue = JobQueue(manager, max_history=5, journal_history=12)
        await queue.start()
        async with LoopLagMonitor() as lag:
            ids, waiters = [], []
            for n in range(40):
                ids.append(await queue.submit("echo", n))
                waiters.append(asyncio.create_task(queue.wait_for_job(ids[-1])))
            await asyncio.gather(*waiters)
            with pytest.raises(UnknownJobError):  # gone from memory and from disk
                await queue.wait_for_job(ids[0])
        memory = len(queue._tracked)
        on_disk = queue._journal.count()
        oldest = queue.get_job(ids[0])
        kept = queue.get_job(ids[-10])        # evicted from memory, still journaled
        await queue.stop()
        return memory, on_disk, oldest, kept, lag

    memory, on_disk, oldest, kept, lag = run(scenario())
    assert memory == 5
    assert on_disk == 12
    assert oldest is None
    assert kept.status is JobStatus.COMPLETED and kept.result["args"] == [30]
    assert lag.max_lag < 0.5, lag.report()  # the OS scheduler alone: up to ~0.25 s at load 15


def test_get_state_has_the_0_0_x_shape(tmp_path):
    manager = FakeManager(tmp_path, {"a": "cooperative", "b": "cooperative"})

    async def scenario():
        queue = JobQueue(manager, max_concurrent_plugins=1)
        done = await queue.submit("a", fail="bad")
        await queue.start()
        await queue.wait_for_job(done)
        running = await queue.submit("a", sleep=0.3)
        p1 = await queue.submit("b", 1)
        p2 = await queue.submit("a", 2, priority=3)
        await asyncio.sleep(0.05)
        state = queue.get_state()
        await queue.stop()
        return state, running, p1, p2, done

    state, running, p1, p2, done = run(scenario())
    assert set(state) >= {"running", "pending", "history", "stats"}
    assert set(state["running"]) == {"id", "plugin_name", "status", "started_at", "progress",
                                      "status_message"}
    assert state["running"]["id"] == running and state["running"]["status"] == "running"
    assert state["pending"] == [{"id": p2, "plugin_name": "a", "priority": 3, "position": 0},
                                {"id": p1, "plugin_name": "b", "priority": 0, "position": 1}]
    assert len(state["history"]) == 1
    assert set(state["history"][0]) == {"id", "plugin_name", "status", "completed_at", "error"}
    assert state["history"][0]["id"] == done and state["history"][0]["status"] == "failed"
    assert {k: v for k, v in state["stats"].items() if k != "total_running"} == {
        "total_pending": 2, "total_completed": 0, "total_failed": 1, "total_cancelled": 0}


def test_history_lists_the_20_most_recent_first(tmp_path):
    manager = FakeManager(tmp_path)

    async def scenario():
        async with JobQueue(manager) as queue:
            ids = [await queue.submit("echo", n) for n in range(25)]
            for job_id in ids:
                await queue.wait_for_job(job_id)
            return ids, queue.get_state()

    ids, state = run(scenario())
    assert [h["id"] for h in state["history"]] == ids[::-1][:20]
    assert state["stats"]["total_completed"] == 25


def test_job_logs_are_that_jobs_lines_only(tmp_path):
    manager = FakeManager(tmp_path)

    async def scenario():
        async with JobQueue(manager, max_history=1) as queue:
            ids = [await queue.submit("echo", log=f"job-{n}", sleep=0.01) for n in range(3)]
            for job_id in ids:
                await queue.wait_for_job(job_id)
            running = await queue.submit("echo", log="live", sleep=30)
            while not manager.running.get("echo"):  # until it runs (and logged its first line)
                await asyncio.sleep(0.005)
            live = queue.get_job_logs(running)
            assert await queue.cancel(running)
            await queue.wait_for_job(running, timeout=10)
            return ids, [queue.get_job_logs(i) for i in ids], live, queue.get_job_logs(ids[1], 1)

    ids, logs, live, tail = run(scenario())
    for n, text in enumerate(logs):           # the first two come from the journal
        assert text == f"[echo] job-{n}\n[echo] done job-{n}\n"
    assert live == "[echo] live\n"
    assert tail == "[echo] done job-1\n"


def test_get_job_logs_of_an_unknown_job_is_empty(tmp_path):
    manager = FakeManager(tmp_path)
    queue = JobQueue(manager)
    try:
        assert queue.get_job_logs("nope") == ""
        assert queue.get_job("nope") is None
    finally:
        run(queue.stop())
