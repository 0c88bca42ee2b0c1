"""Live events per job: pushed on every change, progress polled while it runs, bounded per
subscriber, ending with the terminal event."""

from __future__ import annotations

import asyncio

import pytest
from test_queue_support import FakeManager, run

from cjm_docker.errors import UnknownJobError
from cjm_docker.queue import EventKind, JobEvent, JobQueue, JobStatus
from cjm_docker.queue.events import EventHub


async def _collect(queue: JobQueue, job_id: str) -> list[JobEvent]:
    return [event async for event in queue.events(job_id)]


def test_a_subscriber_sees_the_whole_life_of_a_job(tmp_path):
    manager = FakeManager(tmp_path)

    async def scenario():
        async with JobQueue(manager, progress_poll_interval=0.02) as queue:
            blocker = await queue.submit("echo", sleep=0.1)
            job_id = await queue.submit("echo", sleep=0.4, steps=4)
            listener = asyncio.create_task(_collect(queue, job_id))
            await queue.wait_for_job(blocker)
            return await asyncio.wait_for(listener, 5)

    events = run(scenario())
    kinds = [e.kind for e in events]
    assert kinds[0] is EventKind.SNAPSHOT and events[0].status is JobStatus.PENDING
    assert kinds[1] is EventKind.STARTED
    assert kinds[-1] is EventKind.COMPLETED and events[-1].progress == 1.0
    progress = [e for e in events if e.kind is EventKind.PROGRESS]
    assert [e.message for e in progress] == ["step 1", "step 2", "step 3"]  # step 4 = the end
    assert [e.progress for e in progress] == sorted(e.progress for e in progress)
    assert all(e.job_id == events[0].job_id for e in events)
    assert events[-1].to_dict()["kind"] == "completed"


def test_late_and_finished_subscribers_get_the_current_state_first(tmp_path):
    manager = FakeManager(tmp_path)

    async def scenario():
        async with JobQueue(manager, progress_poll_interval=0.02) as queue:
            job_id = await queue.submit("echo", sleep=0.3, steps=3)
            while queue.get_job(job_id).progress < 0.3:
                await asyncio.sleep(0.01)
            late = await _collect(queue, job_id)
            after = await _collect(queue, job_id)
            return late, after

    late, after = run(scenario())
    assert late[0].kind is EventKind.SNAPSHOT and late[0].status is JobStatus.RUNNING
    assert late[0].progress >= 0.3
    assert late[-1].kind is EventKind.COMPLETED
    assert [e.kind for e in after] == [EventKind.COMPLETED]


def test_events_of_an_evicted_job_come_from_the_journal(tmp_path):
    manager = FakeManager(tmp_path)

    async def scenario():
        async with JobQueue(manager, max_history=0) as queue:
            job_id = await queue.submit("echo", 1, fail="nope")
            await queue.wait_for_job(job_id)
            events = await _collect(queue, job_id)
            with pytest.raises(UnknownJobError):
                await _collect(queue, "no-such-job")
            return events

    events = run(scenario())
    assert [e.kind for e in events] == [EventKind.FAILED]
    assert "nope" in events[0].error


def test_no_progress_poll_for_short_jobs(tmp_path):
    """The first poll waits one interval: a trivial job costs no extra round trip and never
    shows the previous job's progress (0.0.x's first poll was immediate)."""
    manager = FakeManager(tmp_path)

    async def scenario():
        async with JobQueue(manager, progress_poll_interval=0.25) as queue:
            for n in range(50):
                await queue.wait_for_job(await queue.submit("echo", n))

    run(scenario())
    assert manager.proxies["echo"].progress_polls == 0


def test_a_slow_subscriber_loses_old_events_but_always_gets_the_end():
    hub = EventHub(buffer_size=3)
    sub = hub.subscribe("j")
    for n in range(10):
        hub.publish(JobEvent("j", EventKind.PROGRESS, JobStatus.RUNNING, n / 10, ""))
    hub.publish(JobEvent("j", EventKind.COMPLETED, JobStatus.COMPLETED, 1.0, ""))

    async def drain():
        return [await sub.get() for _ in range(3)]

    events = asyncio.run(drain())
    assert sub.dropped == 8
    assert [e.progress for e in events] == [0.8, 0.9, 1.0]
    assert events[-1].is_terminal
    assert hub._subscribers == {}   # nothing follows a terminal event


def test_many_subscribers_each_get_every_event(tmp_path):
    manager = FakeManager(tmp_path)

    async def scenario():
        async with JobQueue(manager, progress_poll_interval=0.02) as queue:
            job_id = await queue.submit("echo", sleep=0.2, steps=2)
            streams = await asyncio.gather(*(_collect(queue, job_id) for _ in range(5)))
            return streams

    streams = run(scenario())
    first = [(e.kind, e.progress) for e in streams[0]]
    assert all([(e.kind, e.progress) for e in s] == first for s in streams)
    assert first[-1][0] is EventKind.COMPLETED
