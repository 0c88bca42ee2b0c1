"""Cancellation: pending at once, running cooperatively, escalating to a container restart,
always recorded as CANCELLED, never blocking the event loop."""

from __future__ import annotations

import asyncio
import time

import pytest
from test_queue_support import COOPERATIVE, IGNORES, RAISES, RETURNS, FakeManager, run

from cjm_docker.queue import EventKind, JobQueue, JobStatus, LoopLagMonitor

# A loop that runs a container restart itself is late by the whole restart (RESTART_S); one
# that never blocks is late only by the OS scheduler, which at load 15 on two cores wakes it up
# to ~0.25 s late. test_watchdog_detects_a_blocking_restart proves a RESTART_S block exceeds
# MAX_LAG, so the tests that assert lag < MAX_LAG would catch one.
RESTART_S = 1.0
MAX_LAG = 0.5
# Upper bounds on a cancel say "it did not wait for the job" (jobs here run 30-60 s); the slack
# absorbs a loaded machine, not a missing escalation.
SLACK_S = 5.0


async def _until_running(queue: JobQueue, manager: FakeManager, job_id: str) -> None:
    """Until the job's execute call is in flight in its (fake) container."""
    plugin = queue.get_job(job_id).plugin_name
    while (queue.get_job(job_id).status is not JobStatus.RUNNING
           or not manager.running.get(plugin)):
        await asyncio.sleep(0.005)


def test_cancel_pending_is_immediate_and_it_never_runs(tmp_path):
    manager = FakeManager(tmp_path)

    async def scenario():
        async with JobQueue(manager) as queue:
            first = await queue.submit("echo", 1, sleep=30)  # holds the lane: second stays pending
            second = await queue.submit("echo", 2)
            assert await queue.cancel(second)
            job = await queue.wait_for_job(second, timeout=1)
            assert not await queue.cancel(second)     # already terminal
            assert not await queue.cancel("unknown")
            assert await queue.cancel(first)          # cooperative: ends at once
            await queue.wait_for_job(first, timeout=10)
            return job

    job = run(scenario())
    assert job.status is JobStatus.CANCELLED and job.completed_at
    assert [c.args[0] for c in manager.calls] == [1]


@pytest.mark.parametrize("behaviour", [COOPERATIVE, RAISES, RETURNS])
def test_cancel_running_is_cancelled_however_the_plugin_stops(tmp_path, behaviour):
    """0.0.x recorded a plugin that aborts by raising as FAILED (defect 7)."""
    manager = FakeManager(tmp_path, {"p": behaviour}, restart_delay=0.05)
    cancel_timeout = 2 * SLACK_S

    async def scenario():
        async with JobQueue(manager, cancel_timeout=cancel_timeout) as queue:
            job_id = await queue.submit("p", sleep=30, steps=30)
            await _until_running(queue, manager, job_id)
            started = time.perf_counter()
            assert await queue.cancel(job_id)
            job = await queue.wait_for_job(job_id, timeout=20)
            return job, time.perf_counter() - started

    job, took = run(scenario())
    assert job.status is JobStatus.CANCELLED
    assert job.error is None and job.result is None
    assert took < SLACK_S                   # well before cancel_timeout would escalate
    assert manager.restarts == []           # cooperative: no container was replaced
    assert manager.proxies["p"].cancels == 1


def test_cancel_escalates_to_a_restart_when_the_plugin_ignores_it(tmp_path):
    """A 60-second job that ignores cancel: cancelled within cancel_timeout + restart, its
    container replaced, the next job runs on the fresh one; the loop never blocked."""
    manager = FakeManager(tmp_path, {"stubborn": IGNORES}, restart_delay=RESTART_S)
    cancel_timeout = 0.5

    async def scenario():
        async with JobQueue(manager, cancel_timeout=cancel_timeout) as queue:
            long_job = await queue.submit("stubborn", sleep=60, log="working")
            next_job = await queue.submit("stubborn", "next")
            await _until_running(queue, manager, long_job)
            async with LoopLagMonitor() as lag:
                started = time.perf_counter()
                assert await queue.cancel(long_job)
                assert await queue.cancel(long_job)  # a second cancel changes nothing
                cancelled = await queue.wait_for_job(long_job, timeout=20)
                took = time.perf_counter() - started
                after = await queue.wait_for_job(next_job, timeout=20)
            logs = queue.get_job_logs(long_job)
            return cancelled, took, after, lag, logs

    cancelled, took, after, lag, logs = run(scenario())
    assert cancelled.status is JobStatus.CANCELLED
    assert "container was replaced" in cancelled.status_message
    assert cancel_timeout + manager.restart_delay <= took < cancel_timeout + RESTART_S + SLACK_S
    assert manager.restarts == ["stubborn"]
    assert after.status is JobStatus.COMPLETED and after.result["generation"] == 1
    assert "working" in logs                 # read before the old container went
    assert lag.max_lag < MAX_LAG, lag.report()


def test_escalation_with_a_failing_restart_still_ends_the_job(tmp_path):
    manager = FakeManager(tmp_path, {"stubborn": IGNORES}, restart_delay=0.0)

    async def broken_restart(name: str) -> None:
        raise RuntimeError("engine gone")
    manager.restart_plugin_async = broken_restart

    async def scenario():
        async with JobQueue(manager, cancel_timeout=0.2) as queue:
            job_id = await queue.submit("stubborn", sleep=60)
            await _until_running(queue, manager, job_id)
            await queue.cancel(job_id)
            return await queue.wait_for_job(job_id, timeout=5)

    job = run(scenario())
    assert job.status is JobStatus.CANCELLED
    assert "engine gone" in job.error and job.error_type == "RuntimeError"


def test_watchdog_detects_a_blocking_restart(tmp_path):
    """The measurement itself works: 0.0.x's synchronous reload would be caught, by the
    MAX_LAG that the other tests assert, at the restart time they use."""
    manager = FakeManager(tmp_path, {"stubborn": IGNORES}, restart_delay=RESTART_S)
    manager.block_loop_on_restart = True

    async def scenario():
        async with JobQueue(manager, cancel_timeout=0.1) as queue:
            job_id = await queue.submit("stubborn", sleep=60)
            await _until_running(queue, manager, job_id)
            async with LoopLagMonitor() as lag:
                await queue.cancel(job_id)
                await queue.wait_for_job(job_id, timeout=20)
            return lag

    assert run(scenario()).max_lag > MAX_LAG


def test_cancel_before_the_call_is_sent_never_runs_it(tmp_path):
    manager = FakeManager(tmp_path)

    async def scenario():
        async with JobQueue(manager) as queue:
            job_id = await queue.submit("echo", 1)
            # It is RUNNING now (lane reserved) but its start is still being journaled.
            assert queue.get_job(job_id).status is JobStatus.RUNNING
            assert await queue.cancel(job_id)
            return await queue.wait_for_job(job_id, timeout=2)

    job = run(scenario())
    assert job.status is JobStatus.CANCELLED
    assert manager.calls == []


def test_cancel_events_are_streamed(tmp_path):
    manager = FakeManager(tmp_path, {"stubborn": IGNORES}, restart_delay=0.1)

    async def scenario():
        async with JobQueue(manager, cancel_timeout=0.2) as queue:
            job_id = await queue.submit("stubborn", sleep=60)
            await _until_running(queue, manager, job_id)
            kinds = []

            async def listen():
                async for event in queue.events(job_id):
                    kinds.append(event.kind)
            listener = asyncio.create_task(listen())
            await asyncio.sleep(0.01)
            await queue.cancel(job_id)
            await asyncio.wait_for(listener, 5)
            return kinds

    assert run(scenario()) == [EventKind.SNAPSHOT, EventKind.CANCEL_REQUESTED,
                               EventKind.ESCALATED, EventKind.CANCELLED]


def test_stop_waits_then_cancels_running_jobs_and_keeps_pending_ones(tmp_path):
    """0.0.x's stop() left the execute running and recorded it as cancelled (defect 19)."""
    manager = FakeManager(tmp_path, {"stubborn": IGNORES}, restart_delay=RESTART_S)
    stop_timeout = 0.2

    async def scenario():
        queue = JobQueue(manager, cancel_timeout=0.2)
        await queue.start()
        running = await queue.submit("stubborn", sleep=60)
        pending = await queue.submit("stubborn", "later")
        await _until_running(queue, manager, running)
        async with LoopLagMonitor() as lag:
            started = time.perf_counter()
            await queue.stop(timeout=stop_timeout)
            took = time.perf_counter() - started
        assert queue.get_job(running).status is JobStatus.CANCELLED
        assert "stop()" in queue.get_job(running).status_message
        assert queue.get_job(pending).status is JobStatus.PENDING
        assert manager.restarts == ["stubborn"]       # nothing left running in the container
        assert lag.max_lag < MAX_LAG, lag.report()
        assert stop_timeout + RESTART_S <= took < stop_timeout + RESTART_S + SLACK_S  # not 60 s
        resumed = JobQueue(manager)
        await resumed.start()
        job = await resumed.wait_for_job(pending, timeout=20)
        await resumed.stop()
        return job

    job = run(scenario())
    assert job.status is JobStatus.COMPLETED and job.result["args"] == ["later"]
