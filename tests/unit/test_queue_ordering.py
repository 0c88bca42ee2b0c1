"""Job order: priority, then first come first served (deterministic), per-plugin lanes."""

from __future__ import annotations

import pytest
from test_queue_support import FakeManager, run

from cjm_docker.queue import Job, JobQueue, JobStatus
from cjm_docker.queue.pending import PendingJobs


def _job(n: int, plugin: str = "p", priority: int = 0) -> Job:
    return Job(id=f"j{n}", plugin_name=plugin, priority=priority, sequence=n, created_at=0.0)


def test_pending_orders_by_priority_then_sequence_even_with_equal_timestamps():
    pending = PendingJobs()
    for n, prio in [(1, 0), (2, 5), (3, 0), (4, 5), (5, -1)]:
        pending.push(_job(n, priority=prio))
    order = []
    while (job := pending.pop_best(lambda p: True)) is not None:
        order.append(job.id)
    assert order == ["j2", "j4", "j1", "j3", "j5"]


def test_pending_reprioritize_and_remove_are_lazy_but_exact():
    pending = PendingJobs()
    jobs = [_job(n) for n in range(1, 6)]
    for job in jobs:
        pending.push(job)
    assert pending.reprioritize(jobs[3], 10)
    assert pending.reprioritize(jobs[3], 0)      # back again: no duplicate entry
    assert pending.reprioritize(jobs[4], 1)
    assert pending.remove(jobs[0])
    assert [j.id for j in pending.ordered()] == ["j5", "j2", "j3", "j4"]
    assert len(pending) == 4
    popped = []
    while (job := pending.pop_best(lambda p: True)) is not None:
        popped.append(job.id)
    assert popped == ["j5", "j2", "j3", "j4"]
    assert not pending.reprioritize(jobs[0], 3)


def test_pending_best_head_across_lanes_skips_busy_lanes():
    pending = PendingJobs()
    pending.push(_job(1, "a"))
    pending.push(_job(2, "b", priority=3))
    pending.push(_job(3, "a", priority=9))
    assert pending.pop_best(lambda p: p != "a").id == "j2"
    assert pending.pop_best(lambda p: p != "a") is None
    assert pending.pop_best(lambda p: True).id == "j3"
    assert pending.plugins() == ["a"]


def test_queue_runs_in_priority_then_submission_order(tmp_path):
    manager = FakeManager(tmp_path, {"echo": "cooperative"})

    async def scenario():
        queue = JobQueue(manager, max_concurrent_plugins=1)
        ids = []
        for n, prio in enumerate([0, 0, 5, 1, 5, 0]):
            ids.append(await queue.submit("echo", n, priority=prio))
        await queue.start()
        for job_id in ids:
            await queue.wait_for_job(job_id)
        await queue.stop()
        return [c.args[0] for c in manager.calls]

    assert run(scenario()) == [2, 4, 3, 0, 1, 5]


def test_reorder_moves_a_pending_job_and_rejects_others(tmp_path):
    manager = FakeManager(tmp_path)

    async def scenario():
        queue = JobQueue(manager)
        ids = [await queue.submit("echo", n) for n in range(4)]
        assert queue.reorder(ids[3], 7)
        assert [p["id"] for p in queue.get_state()["pending"]] == [ids[3], ids[0], ids[1], ids[2]]
        assert [p["position"] for p in queue.get_state()["pending"]] == [0, 1, 2, 3]
        assert not queue.reorder("nope", 1)
        await queue.start()
        for job_id in ids:
            await queue.wait_for_job(job_id)
        assert not queue.reorder(ids[0], 3)   # finished
        await queue.stop()
        return [c.args[0] for c in manager.calls]

    assert run(scenario()) == [3, 0, 1, 2]


def test_one_plugin_runs_in_order_while_plugins_run_side_by_side(tmp_path):
    manager = FakeManager(tmp_path, {"a": "cooperative", "b": "cooperative"})

    async def scenario():
        async with JobQueue(manager) as queue:
            ids = []
            for n in range(3):
                ids.append(await queue.submit("a", n, sleep=0.2))
                ids.append(await queue.submit("b", n, sleep=0.2))
            for job_id in ids:
                await queue.wait_for_job(job_id)

    run(scenario())
    a_calls = [c for c in manager.calls if c.plugin == "a"]
    b_calls = [c for c in manager.calls if c.plugin == "b"]
    assert manager.max_parallel == {"a": 1, "b": 1}
    assert [c.args[0] for c in a_calls] == [0, 1, 2]
    assert [c.args[0] for c in b_calls] == [0, 1, 2]
    # Side by side: some call of each ran at the same time (in series, none would), however
    # slowly a loaded machine runs the lanes.
    assert any(a.started < b.ended and b.started < a.ended for a in a_calls for b in b_calls
               if a.ended is not None and b.ended is not None)


def test_max_concurrent_plugins_limits_lanes_and_picks_the_best_head(tmp_path):
    manager = FakeManager(tmp_path, {"a": "cooperative", "b": "cooperative",
                                     "c": "cooperative"})

    async def scenario():
        queue = JobQueue(manager, max_concurrent_plugins=1)
        a = await queue.submit("a", "a", sleep=0.05)
        b = await queue.submit("b", "b", sleep=0.05, priority=2)
        c = await queue.submit("c", "c", sleep=0.05, priority=1)
        await queue.start()
        state = queue.get_state()
        assert state["running"]["id"] == b and len(state["running_jobs"]) == 1
        for job_id in (a, b, c):
            assert (await queue.wait_for_job(job_id)).status is JobStatus.COMPLETED
        await queue.stop()

    run(scenario())
    assert [c.plugin for c in manager.calls] == ["b", "c", "a"]
    assert max(manager.max_parallel.values()) == 1


def test_order_survives_a_restart_of_the_queue(tmp_path):
    manager = FakeManager(tmp_path)

    async def first():
        queue = JobQueue(manager)
        for n, prio in enumerate([0, 2, 0, 2]):
            await queue.submit("echo", n, priority=prio)
        await queue.stop()

    async def second():
        queue = JobQueue(manager)
        ids = [p["id"] for p in queue.get_state()["pending"]]
        later = await queue.submit("echo", 4, priority=2)
        await queue.start()
        for job_id in [*ids, later]:
            await queue.wait_for_job(job_id)
        await queue.stop()

    run(first())
    run(second())
    assert [c.args[0] for c in manager.calls] == [1, 3, 4, 0, 2]


def test_unknown_plugin_fails_the_job_not_the_queue(tmp_path):
    manager = FakeManager(tmp_path)

    async def scenario():
        async with JobQueue(manager) as queue:
            bad = await queue.wait_for_job(await queue.submit("missing", 1))
            good = await queue.wait_for_job(await queue.submit("echo", 2))
            return bad, good

    bad, good = run(scenario())
    assert bad.status is JobStatus.FAILED and "not loaded" in bad.error
    assert bad.error_type == "PluginNotLoadedError"
    assert good.status is JobStatus.COMPLETED and good.result["args"] == [2]


@pytest.mark.parametrize("kwargs, status, error", [
    ({"fail": "boom"}, JobStatus.FAILED, "boom"),
    ({"crash": True}, JobStatus.FAILED, "crashed"),
])
def test_failures_are_recorded_with_their_type(tmp_path, kwargs, status, error):
    manager = FakeManager(tmp_path)

    async def scenario():
        async with JobQueue(manager) as queue:
            return await queue.wait_for_job(await queue.submit("echo", **kwargs))

    job = run(scenario())
    assert job.status is status and error in job.error and job.error_type
    assert job.progress != 1.0


def test_a_stopped_queue_starts_again_and_keeps_its_jobs(tmp_path):
    manager = FakeManager(tmp_path)

    async def scenario():
        queue = JobQueue(manager)
        await queue.start()
        first = await queue.wait_for_job(await queue.submit("echo", 1))
        await queue.stop()
        waiting = await queue.submit("echo", 2)       # journaled while stopped
        assert queue.get_job(waiting).status is JobStatus.PENDING
        await queue.start()
        second = await queue.wait_for_job(waiting, timeout=5)
        await queue.stop()
        return first, second

    first, second = run(scenario())
    assert first.status is second.status is JobStatus.COMPLETED
    assert [c.args[0] for c in manager.calls] == [1, 2]


def test_job_queue_is_the_package_export():
    import cjm_docker
    from cjm_docker import queue as queue_package

    assert cjm_docker.JobQueue is JobQueue is queue_package.JobQueue
    assert {"JobQueue", "Job", "JobStatus"} <= set(queue_package.__all__)
