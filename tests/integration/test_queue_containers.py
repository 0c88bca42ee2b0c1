"""The job queue against real plugin containers: order, progress events, job-scoped logs,
cooperative cancel, cancel that escalates to a container restart, crashes; the event loop is
watched throughout and must never be late by MAX_LAG or more."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from cjm_docker.queue import EventKind, JobQueue, JobStatus, LoopLagMonitor

pytestmark = pytest.mark.integration

WORKBENCH = "cjm-test-workbench"
# An engine call made on the loop (a container restart: seconds) would make it late by
# seconds; a loop that never blocks is late only by the OS scheduler, up to ~0.25 s at load 15.
MAX_LAG = 0.5


def run(coro, timeout: float = 180.0):
    async def bounded():
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(bounded())


@pytest.fixture
def workbench(manager):
    """The manager with the test workbench's container started."""
    manager.load_plugin(WORKBENCH)
    return manager


def _container_id(manager) -> str:
    return manager.get_plugin(WORKBENCH).container.id


async def _until_running(queue: JobQueue, job_id: str) -> None:
    """Until the job's execute call runs in the container (its worker says busy)."""
    proxy = queue.manager.get_plugin(WORKBENCH)
    while (queue.get_job(job_id).status is not JobStatus.RUNNING
           or not (await proxy.get_progress_async())["busy"]):
        await asyncio.sleep(0.01)


def _queue(manager, tmp_path: Path, **kwargs) -> JobQueue:
    return JobQueue(manager, journal_path=tmp_path / "jobs.sqlite3", **kwargs)


def test_jobs_run_in_order_with_typed_failures(workbench, tmp_path):
    async def scenario():
        async with _queue(workbench, tmp_path, max_history=10) as queue, \
                LoopLagMonitor() as lag:
            started = time.perf_counter()
            ids = [await queue.submit(WORKBENCH, "echo", text=str(n)) for n in range(200)]
            bad = await queue.submit(WORKBENCH, "raise", message="kaput")
            jobs = [await queue.wait_for_job(i, timeout=60) for i in ids]
            rate = len(ids) / (time.perf_counter() - started)
            failed = await queue.wait_for_job(bad, timeout=60)
            return jobs, failed, rate, lag

    jobs, failed, rate, lag = run(scenario())
    assert [j.status for j in jobs] == [JobStatus.COMPLETED] * 200
    assert [j.result["text"] for j in jobs] == [f"hello {n}" for n in range(200)]
    assert failed.status is JobStatus.FAILED and "kaput" in failed.error
    assert failed.error_type == "PluginCallError"
    assert lag.max_lag < MAX_LAG, lag.report()
    print(f"\n200 jobs through a real container: {rate:.0f} jobs/s, {lag.report()}")


def test_progress_is_streamed_while_the_job_runs(workbench, tmp_path):
    async def scenario():
        async with _queue(workbench, tmp_path, progress_poll_interval=0.1) as queue:
            job_id = await queue.submit(WORKBENCH, "sleep", seconds=1.5)
            return [event async for event in queue.events(job_id)]

    events = run(scenario())
    progress = [e.progress for e in events if e.kind is EventKind.PROGRESS]
    assert events[0].kind is EventKind.SNAPSHOT
    assert events[-1].kind is EventKind.COMPLETED and events[-1].progress == 1.0
    assert len(progress) >= 5
    assert progress == sorted(progress) and 0 < progress[0] < progress[-1] <= 1.0


def test_cooperative_cancel_keeps_the_container(workbench, tmp_path):
    before = _container_id(workbench)

    async def scenario():
        async with _queue(workbench, tmp_path, cancel_timeout=20.0) as queue, \
                LoopLagMonitor() as lag:
            job_id = await queue.submit(WORKBENCH, "sleep", seconds=30)
            after = await queue.submit(WORKBENCH, "echo", text="next")
            await _until_running(queue, job_id)
            started = time.perf_counter()
            assert await queue.cancel(job_id)
            job = await queue.wait_for_job(job_id, timeout=30)
            took = time.perf_counter() - started
            return job, took, await queue.wait_for_job(after, timeout=30), lag

    job, took, after, lag = run(scenario())
    assert job.status is JobStatus.CANCELLED and job.error is None
    assert took < 10.0  # cooperative (~0.1 s unloaded), long before cancel_timeout escalates
    assert _container_id(workbench) == before
    assert after.status is JobStatus.COMPLETED and after.result["text"] == "hello next"
    assert lag.max_lag < MAX_LAG, lag.report()


def test_cancel_escalates_to_a_restart_when_the_plugin_ignores_it(workbench, tmp_path):
    """The issue's case: a 60-second job whose plugin ignores cancel is cancelled within
    cancel_timeout plus a container restart; the container was replaced; the next job runs."""
    before = _container_id(workbench)
    cancel_timeout = 1.0

    async def scenario():
        async with _queue(workbench, tmp_path, cancel_timeout=cancel_timeout) as queue, \
                LoopLagMonitor() as lag:
            job_id = await queue.submit(WORKBENCH, "sleep", seconds=60, cooperative=False)
            after = await queue.submit(WORKBENCH, "echo", text="fresh")
            await _until_running(queue, job_id)
            started = time.perf_counter()
            assert await queue.cancel(job_id)
            job = await queue.wait_for_job(job_id, timeout=60)
            took = time.perf_counter() - started
            next_job = await queue.wait_for_job(after, timeout=60)
            return job, took, next_job, lag

    job, took, next_job, lag = run(scenario())
    assert job.status is JobStatus.CANCELLED
    assert "container was replaced" in job.status_message
    assert cancel_timeout <= took < cancel_timeout + 15.0, took
    assert _container_id(workbench) != before
    assert next_job.status is JobStatus.COMPLETED and next_job.result["text"] == "hello fresh"
    assert lag.max_lag < MAX_LAG, lag.report()
    print(f"\nescalated cancel took {took:.2f} s (cancel_timeout {cancel_timeout} s), "
          f"{lag.report()}")


def test_job_logs_hold_that_jobs_lines_only(workbench, tmp_path):
    async def scenario():
        async with _queue(workbench, tmp_path, max_history=0) as queue:
            first = await queue.submit(WORKBENCH, "raise", message="alpha-broke")
            second = await queue.submit(WORKBENCH, "raise", message="beta-broke")
            quiet = await queue.submit(WORKBENCH, "echo", text="quiet")
            for job_id in (first, second, quiet):
                await queue.wait_for_job(job_id, timeout=30)
            return [queue.get_job_logs(i) for i in (first, second, quiet)]

    first, second, quiet = run(scenario())
    assert "alpha-broke" in first and "beta-broke" not in first
    assert "beta-broke" in second and "alpha-broke" not in second
    assert "broke" not in quiet


def test_a_crashed_container_fails_its_job_and_the_next_one_runs(workbench, tmp_path):
    async def scenario():
        async with _queue(workbench, tmp_path) as queue, LoopLagMonitor() as lag:
            crash = await queue.submit(WORKBENCH, "exit", code=9)
            after = await queue.submit(WORKBENCH, "echo", text="again")
            return (await queue.wait_for_job(crash, timeout=60),
                    await queue.wait_for_job(after, timeout=60), lag)

    crashed, after, lag = run(scenario())
    assert crashed.status is JobStatus.FAILED
    assert crashed.error_type == "WorkerCrashedError"
    assert after.status is JobStatus.COMPLETED and after.result["text"] == "hello again"
    print(f"\ncrash + replacement: {lag.report()}")
