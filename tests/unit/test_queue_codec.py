"""The journal's codec and bad rows: tags cannot be forged by plain data, odd arguments are
refused with a reason, and one unreadable row never keeps a queue from starting."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from test_queue_support import FakeManager, run

from cjm_docker.codec import MAX_NESTING, decode_call, encode_call
from cjm_docker.queue import JobQueue, JobStatus


def round_trip(*args, **kwargs):
    text_args, text_kwargs, ok = encode_call(args, kwargs)
    assert ok
    return decode_call(text_args, text_kwargs)


def test_a_plain_dict_that_looks_like_a_tag_comes_back_as_that_dict():
    forged = {"$path": "/etc/shadow"}
    args, kwargs = round_trip(forged, [forged], k={"$$path": "x"}, p=Path("/real"))
    assert args == ({"$path": "/etc/shadow"}, [{"$path": "/etc/shadow"}])
    assert type(args[0]) is dict
    assert kwargs == {"k": {"$$path": "x"}, "p": Path("/real")}
    assert round_trip({"$unjournaled": 1}, {"$path": Path("/x")}) == (
        ({"$unjournaled": 1}, {"$path": Path("/x")}), {})


def test_odd_arguments_are_not_journaled_and_say_why():
    deep: list = []
    for _ in range(MAX_NESTING + 5):
        deep = [deep]
    for bad in (deep, {b"k": 1}, {("a", "b"): 1}, {1, 2}):
        text, _, ok = encode_call((bad,), {})
        assert not ok, bad
        assert "$unjournaled" in text
    very_deep: list = []
    for _ in range(100_000):   # would be a RecursionError in a plain recursive walk
        very_deep = [very_deep]
    assert not encode_call((very_deep,), {})[2]


def test_unreadable_rows_fail_alone_and_the_queue_starts(tmp_path):
    manager = FakeManager(tmp_path)

    async def first():
        queue = JobQueue(manager, max_concurrent_plugins=1)
        await queue.start()
        blocker = await queue.submit("echo", sleep=30)
        ids = [await queue.submit("echo", job=n) for n in range(3)]
        await queue.stop(timeout=0.1)   # the blocker is cancelled, the rest stay pending
        return blocker, ids

    blocker, ids = run(first())
    with sqlite3.connect(tmp_path / "jobs.sqlite3") as conn:
        conn.execute("UPDATE jobs SET args = 'not json [' WHERE id = ?", (ids[0],))
        conn.execute("UPDATE jobs SET kwargs = '[1, 2]' WHERE id = ?", (ids[1],))

    async def second():
        async with JobQueue(manager) as queue:
            return [await queue.wait_for_job(i, timeout=10) for i in ids]

    broken, wrong_shape, fine = run(second())
    for job in (broken, wrong_shape):
        assert job.status is JobStatus.FAILED
        assert "not readable" in job.error or "not a list" in job.error
        assert job.error_type == "QueueError"
    assert fine.status is JobStatus.COMPLETED
