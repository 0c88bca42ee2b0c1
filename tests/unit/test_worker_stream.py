"""Streams: typed frames, errors as the last frame, volume, back-pressure, early disconnect."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import pytest

from cjm_docker.worker.calls import Call, CallKind
from cjm_docker.worker.streaming import END_LINE, LinePipe, produce
from tests.fixtures.worker_harness import asgi_client, json_lines_floor_s, loaded_host

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def frames(text: str) -> list[dict[str, Any]]:
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


async def stream(class_name: str, **kwargs: Any) -> tuple[int, str, list[dict[str, Any]]]:
    async with asgi_client(loaded_host(class_name)) as client:
        response = await client.post("/execute_stream", json={"kwargs": kwargs})
    return (response.status_code, response.headers["content-type"],
            frames(response.text) if response.status_code == 200 else response.json())


async def test_data_frames_then_end() -> None:
    status, content_type, got = await stream("StreamPlugin", n=3)
    assert (status, content_type) == (200, "application/x-ndjson")
    assert got == [{"type": "data", "data": {"i": 0}}, {"type": "data", "data": {"i": 1}},
                   {"type": "data", "data": {"i": 2}}, {"type": "end"}]


async def test_an_empty_stream_is_just_end() -> None:
    assert (await stream("StreamPlugin", n=0))[2] == [{"type": "end"}]


async def test_a_hundred_thousand_chunks() -> None:
    floor = json_lines_floor_s(100_000)
    started = time.perf_counter()
    _, _, got = await stream("StreamPlugin", n=100_000)
    elapsed = time.perf_counter() - started
    assert len(got) == 100_001 and got[-1] == {"type": "end"}
    assert [frame["data"]["i"] for frame in got[:-1]] == list(range(100_000))
    # ~1.1 floors, loaded or not; a collapse (a wake-up or a write per chunk) is several.
    assert elapsed < 5 * floor, f"{elapsed:.2f} s, floor {floor:.2f} s"


async def test_an_exception_midway_is_the_last_frame() -> None:
    _, _, got = await stream("StreamPlugin", n=5, fail_at=2)
    assert [frame["type"] for frame in got] == ["data", "data", "error"]
    error = got[-1]["error"]
    assert (error["category"], error["type"], error["message"]) == (
        "plugin", "RuntimeError", "failed at chunk 2")
    assert "execute_stream" in error["traceback"]


async def test_an_unencodable_chunk_ends_the_stream_with_an_encoding_error() -> None:
    _, _, got = await stream("StreamPlugin", n=5, bad_at=1)
    assert [frame["type"] for frame in got] == ["data", "error"]
    assert got[-1]["error"]["category"] == "encoding"
    assert got[-1]["error"]["message"] == "chunks[1] is an Opaque, which JSON cannot carry"


async def test_a_cancelled_stream_ends_with_a_cancelled_frame() -> None:
    host = loaded_host("StreamPlugin")
    async with asgi_client(host) as client:
        call = asyncio.create_task(client.post("/execute_stream", json={
            "kwargs": {"n": 1000, "delay": 0.01, "check_cancel": True}}))
        while host.plugin.produced < 3:
            await asyncio.sleep(0.005)
        assert (await client.post("/cancel")).json()["cancelled"] is True
        got = frames((await call).text)
    assert got[-1]["type"] == "error"
    assert got[-1]["error"]["category"] == "cancelled"
    assert len(got) < 1000


async def test_without_execute_stream_the_execute_result_is_the_one_chunk() -> None:
    _, _, got = await stream("DuckPlugin")
    assert got == [{"type": "data", "data": "quack"}, {"type": "end"}]


async def test_stream_before_ready_is_503() -> None:
    from cjm_docker.worker.host import PluginHost

    host = PluginHost("tests.fixtures.worker_plugins", "SlowLoadPlugin")
    loading = host.start_loading()
    async with asgi_client(host) as client:
        response = await client.post("/execute_stream")
    loading.result(timeout=5)
    assert response.status_code == 503


async def test_client_gone_closes_the_generator_and_requests_cancel() -> None:
    host = loaded_host("StreamPlugin")
    pipe = LinePipe(asyncio.get_running_loop(), max_lines=4)
    future = host.start_stream([], {"n": 10**9}, pipe)
    batches = pipe.batches()
    first = await batches.__anext__()
    assert first.startswith(b'{"type":"data"')
    pipe.abandon()  # what PipeResponse does when the client disconnects
    host.request_cancel(pipe.call)
    await asyncio.wrap_future(future)
    assert host.plugin.closed.is_set()
    assert host.plugin.produced < 100
    assert not host.busy
    host.close()


def test_the_producer_waits_while_the_pipe_is_full() -> None:
    async def scenario() -> None:
        pipe = LinePipe(asyncio.get_running_loop(), max_lines=10)
        put = threading.Thread(target=lambda: [pipe.put(b"x\n") for _ in range(25)] and
                               pipe.finish())
        put.start()
        deadline = time.monotonic() + 30
        while len(pipe._lines) < 10:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.005)
        put.join(timeout=0.2)  # time to put more, were it not waiting
        assert put.is_alive() and len(pipe._lines) == 10  # bounded: the producer is waiting
        received = b"".join([batch async for batch in pipe.batches()])
        put.join(timeout=30)
        assert received == b"x\n" * 25

    asyncio.run(scenario())


def _count_wake_ups(loop: asyncio.AbstractEventLoop, pipe: LinePipe) -> list[int]:
    """Counts the pipe's ``call_soon_threadsafe`` wake-ups of ``loop`` (a one-item list)."""
    wakes = [0]
    original = loop.call_soon_threadsafe

    def counting(*args: Any, **kwargs: Any) -> Any:
        if args and args[0] == pipe._wakeup.set:
            wakes[0] += 1
        return original(*args, **kwargs)

    loop.call_soon_threadsafe = counting  # type: ignore[method-assign]
    return wakes


def test_one_wake_up_per_wait_not_per_line() -> None:
    """A consumer that waits once is woken once, however many lines arrive meanwhile; lines
    that arrive while it is not waiting wake nobody. Exact counts, whatever the machine's
    load: the producer runs to the end before the consumer may look."""
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        pipe = LinePipe(loop)
        wakes = _count_wake_ups(loop, pipe)
        batches = pipe.batches()
        first = asyncio.ensure_future(batches.__anext__())
        deadline = time.monotonic() + 30
        while not pipe._waiting:  # the consumer is asleep on the empty pipe
            assert time.monotonic() < deadline
            await asyncio.sleep(0.001)
        producer = threading.Thread(target=lambda: [pipe.put(b"x\n") for _ in range(500)])
        producer.start()
        producer.join(timeout=30)  # blocks the loop: the wake-up can only be queued
        assert not producer.is_alive()
        assert wakes == [1]
        assert await first == b"x\n" * 500  # all 500 lines as one batch
        for _ in range(500):  # the consumer is busy, not waiting: no wake-up
            pipe.put(b"y\n")
        pipe.finish()
        assert b"".join([batch async for batch in batches]) == b"y\n" * 500
        assert wakes == [1]

    asyncio.run(scenario())


def test_a_real_stream_wakes_the_loop_at_most_once_per_wait() -> None:
    """The plugin thread and the loop interleave as the machine lets them; every wake-up
    still answers a wait (never one per line)."""
    async def scenario() -> tuple[int, int]:
        loop = asyncio.get_running_loop()
        pipe = LinePipe(loop)
        wakes = _count_wake_ups(loop, pipe)
        waits = 0
        wait = pipe._wakeup.wait

        async def counting_wait() -> Any:
            nonlocal waits
            waits += 1
            return await wait()

        pipe._wakeup.wait = counting_wait  # type: ignore[method-assign]
        host = loaded_host("StreamPlugin")
        future = host.start_stream([], {"n": 20_000}, pipe)
        lines = 0
        async for batch in pipe.batches():
            lines += batch.count(b"\n")
        await asyncio.wrap_future(future)
        host.close()
        assert lines == 20_001
        return wakes[0], waits

    wakes, waits = asyncio.run(scenario())
    assert wakes <= waits


def test_produce_writes_end_after_data() -> None:
    class Plugin:
        def execute_stream(self) -> Any:
            yield 1
            yield {"a": [2]}

    async def scenario() -> bytes:
        pipe = LinePipe(asyncio.get_running_loop())
        thread = threading.Thread(target=produce, args=(Plugin(), Call(CallKind.STREAM), [], {},
                                                        pipe))
        thread.start()
        data = b"".join([batch async for batch in pipe.batches()])
        thread.join()
        return data

    assert asyncio.run(scenario()) == (b'{"type":"data","data":1}\n'
                                       b'{"type":"data","data":{"a":[2]}}\n' + END_LINE)
