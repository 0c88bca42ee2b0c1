"""The async call path: same framing and pool rules as the sync one, on the running loop.

Scripted servers on real Unix sockets play the worker; the last tests use a real worker
process for unary calls and streams, sync and async side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from pathlib import Path

import pytest

from cjm_docker.errors import (
    ProtocolError,
    WorkerConnectError,
    WorkerTimeoutError,
    WorkerUnreachable,
)
from cjm_docker.host.transport import WorkerAddress, WorkerClient
from tests.fixtures.worker_harness import TOKEN, running_worker
from tests.unit.test_host_http1 import client_for, keep_answering, ok, read_request, serve

__all__ = ["serve"]  # the fixture, imported for the tests below


def test_one_loop_connection_carries_many_requests(serve) -> None:
    server = serve(keep_answering(ok(b'{"n":1}')))
    client = client_for(server)

    async def many() -> list[int]:
        return [(await client.arequest("GET", "/progress", timeout=5)).status for _ in range(20)]
    assert asyncio.run(many()) == [200] * 20
    assert server.accepted == 1


def test_a_new_loop_opens_its_own_connection(serve) -> None:
    server = serve(keep_answering(ok()))
    client = client_for(server)
    for _ in range(2):  # asyncio.run: a new loop each time; the old loop's connection is left
        assert asyncio.run(client.arequest("GET", "/x", timeout=5)).body == b'{"ok":true}'
    assert server.accepted == 2
    client.request("GET", "/x", timeout=5)  # the sync path has its own sockets
    assert server.accepted == 3


def test_an_interim_answer_and_a_worker_close_on_the_async_path(serve) -> None:
    def interim_then_close(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b'{"r":2}'))
    server = serve(interim_then_close)
    client = WorkerClient(WorkerAddress(socket_path=server.path), "t", "p")

    async def twice() -> list[object]:
        first = await client.acall("POST", "/execute", {})
        await asyncio.sleep(0.1)  # the worker closes the idle connection meanwhile
        return [first, await client.acall("POST", "/execute", {})]
    assert asyncio.run(twice()) == [{"r": 2}, {"r": 2}]
    assert server.accepted == 2


def test_async_failures_are_the_same_typed_errors(serve, tmp_path: Path) -> None:
    absent = WorkerClient(WorkerAddress(socket_path=str(tmp_path / "absent.sock")), "t", "p")
    with pytest.raises(WorkerConnectError, match="absent.sock"):
        asyncio.run(absent.acall("GET", "/health"))

    def silent(conn: socket.socket) -> None:
        read_request(conn)
        time.sleep(30)  # a daemon thread: the test does not wait for it
    client = WorkerClient(WorkerAddress(socket_path=serve(silent).path), "t", "p")
    started = time.monotonic()
    with pytest.raises(WorkerTimeoutError, match="within 0.3 s") as caught:
        asyncio.run(client.acall("POST", "/execute", {}, timeout=0.3))
    # The 0.3 s timeout, not the 30 s silence.
    assert time.monotonic() - started < 10 and isinstance(caught.value, TimeoutError)

    def cut(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\n{")
    broken = WorkerClient(WorkerAddress(socket_path=serve(cut).path), "t", "p")
    with pytest.raises(WorkerUnreachable) as unreachable:
        asyncio.run(broken.acall("POST", "/execute", {}))
    assert not isinstance(unreachable.value, WorkerConnectError)

    def lying(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 1_0\r\n\r\n{}")
    with pytest.raises(ProtocolError, match="Content-Length"):
        asyncio.run(WorkerClient(WorkerAddress(socket_path=serve(lying).path), "t", "p")
                    .acall("GET", "/config"))


def test_a_cancelled_call_does_not_leave_its_connection_in_the_pool(serve) -> None:
    def slow(conn: socket.socket) -> None:
        with contextlib.suppress(OSError):  # the cancelled call's connection is gone
            while read_request(conn):
                time.sleep(0.3)
                conn.sendall(ok())
    server = serve(slow)
    client = client_for(server)

    async def cancel_then_call() -> int:
        task = asyncio.create_task(client.arequest("POST", "/execute", b"{}"))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return (await client.arequest("GET", "/progress", timeout=5)).status
    assert asyncio.run(cancel_then_call()) == 200
    assert server.accepted == 2  # the late answer to the cancelled call was never read as ours


def test_sync_and_async_calls_and_streams_against_a_real_worker(tmp_path: Path) -> None:
    with running_worker(tmp_path, "EchoPlugin") as worker:
        worker.wait_for_health()
        client = WorkerClient(WorkerAddress(socket_path=str(worker.socket)), TOKEN, "echo")

        async def both() -> tuple[list[object], list[object]]:
            calls = await asyncio.gather(*(client.acall("POST", "/execute", {"args": [i]},
                                                        timeout=10) for i in range(16)))
            chunks = [c async for c in client.astream("/execute_stream", {"args": ["ab"]})]
            return list(calls), chunks
        calls, chunks = asyncio.run(both())
        assert [c["args"] for c in calls] == [[i] for i in range(16)]  # type: ignore[index]
        assert chunks == list(client.stream("/execute_stream", {"args": ["ab"]}))
        assert chunks
        client.close()
