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
from tests.fixtures.worker_harness import asgi_client, loaded_host

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
    started = time.perf_counter()
    _, _, got = await stream("StreamPlugin", n=100_000)
    elapsed = time.perf_counter() - started
    assert len(got) == 100_001 and got[-1] == {"type": "end"}
    assert [frame["data"]["i"] for frame in got[:-1]] == list(range(100_000))
    assert elapsed < 10


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
        await asyncio.sleep(0.1)
        assert len(pipe._lines) == 10  # bounded: the producer is waiting
        received = b"".join([batch async for batch in pipe.batches()])
        put.join(timeout=5)
        assert received == b"x\n" * 25

    asyncio.run(scenario())


def test_one_wake_up_per_wait_not_per_line() -> None:
    async def scenario() -> int:
        loop = asyncio.get_running_loop()
        wakes = 0
        original = loop.call_soon_threadsafe

        def counting(*args: Any) -> Any:
            nonlocal wakes
            wakes += 1
            return original(*args)

        loop.call_soon_threadsafe = counting  # type: ignore[method-assign]
        pipe = LinePipe(loop)
        host = loaded_host("StreamPlugin")
        future = host.start_stream([], {"n": 20_000}, pipe)
        lines = 0
        async for batch in pipe.batches():
            lines += batch.count(b"\n")
        await asyncio.wrap_future(future)
        host.close()
        assert lines == 20_001
        return wakes

    assert asyncio.run(scenario()) < 2_000


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
