"""The lean HTTP/1.1 client: framing, connection reuse, and every way a connection can fail.

A scripted server on a real Unix socket plays the worker's side byte by byte; the last tests run
against a real worker process.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cjm_docker.errors import WorkerConnectError, WorkerTimeoutError, WorkerUnreachable
from cjm_docker.host import connections
from cjm_docker.host.http1 import ConnectFailed, ConnectionBroke, Http1Client
from cjm_docker.host.transport import WorkerAddress, WorkerClient
from tests.fixtures.worker_harness import TOKEN, running_worker

Handler = Callable[[socket.socket], None]


def read_request(conn: socket.socket) -> bytes:
    """One whole request (head and Content-Length body); b"" when the client closed."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


def ok(body: bytes = b'{"ok":true}') -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
        len(body), body)


class ScriptedServer:
    """Accepts on a Unix socket; each connection is handed to ``handler`` on its own thread."""

    def __init__(self, path: Path, handler: Handler) -> None:
        self.path = str(path)
        self.handler = handler
        self.accepted = 0
        self.requests: list[bytes] = []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(self.path)
        self._sock.listen(16)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            self.handler(conn)

    def close(self) -> None:
        self._sock.close()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[[Handler], ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def start(handler: Handler) -> ScriptedServer:
        server = ScriptedServer(tmp_path / f"s{len(servers)}.sock", handler)
        servers.append(server)
        return server
    yield start
    for server in servers:
        server.close()


def client_for(server: ScriptedServer) -> Http1Client:
    return Http1Client(socket_path=server.path, base_url="http://worker",
                       headers={"authorization": "Bearer t"})


def keep_answering(answer: bytes, record: list[bytes] | None = None) -> Handler:
    def handler(conn: socket.socket) -> None:
        with contextlib.suppress(OSError):  # the client may drop a connection mid-answer
            while request := read_request(conn):
                if record is not None:
                    record.append(request)
                conn.sendall(answer)
    return handler


def test_the_request_is_one_well_formed_http11_message(serve) -> None:
    seen: list[bytes] = []
    server = serve(keep_answering(ok(), seen))
    answer = client_for(server).request("POST", "/execute", b'{"args":[]}', timeout=5)
    assert (answer.status, answer.body) == (200, b'{"ok":true}')
    head, _, body = seen[0].partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /execute HTTP/1.1"
    assert set(lines[1:]) == {b"host: worker", b"authorization: Bearer t",
                              b"content-type: application/json", b"content-length: 11"}
    assert body == b'{"args":[]}'


def test_an_answer_trickling_in_byte_by_byte_is_read_whole(serve) -> None:
    def handler(conn: socket.socket) -> None:
        read_request(conn)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        for byte in ok(b'{"text":"' + b"x" * 300 + b'"}'):
            conn.send(bytes([byte]))
        read_request(conn)
    answer = client_for(serve(handler)).request("GET", "/progress", timeout=5)
    assert answer.status == 200 and answer.body.endswith(b'"}') and len(answer.body) == 311


def test_chunked_and_unframed_answers(serve) -> None:
    def chunked(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
                     b"3\r\n{\"a\r\n4;ext=1\r\n\":1}\r\n0\r\n\r\n")
        read_request(conn)

    def unframed(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.0 200 OK\r\n\r\n{\"b\":2}")  # ends when the server closes

    assert client_for(serve(chunked)).request("GET", "/x", timeout=5).body == b'{"a":1}'
    client = client_for(serve(unframed))
    assert client.request("GET", "/x", timeout=5).body == b'{"b":2}'
    assert client.pool._idle == []  # an answer ended by a close leaves nothing to reuse


def test_one_connection_carries_many_requests(serve) -> None:
    server = serve(keep_answering(ok()))
    client = client_for(server)
    for _ in range(20):
        assert client.request("GET", "/progress", timeout=5).status == 200
    assert server.accepted == 1


def test_a_connection_the_worker_closed_is_not_reused(serve) -> None:
    def one_answer_then_close(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(ok())   # keep-alive promised, then closed while idle (a keep-alive timeout)
    server = serve(one_answer_then_close)
    client = client_for(server)
    client.request("GET", "/progress", timeout=5)
    time.sleep(0.1)
    assert client.request("GET", "/progress", timeout=5).status == 200
    assert server.accepted == 2


def test_a_connection_idle_too_long_is_not_reused(serve, monkeypatch) -> None:
    server = serve(keep_answering(ok()))
    client = client_for(server)
    client.request("GET", "/progress", timeout=5)
    monkeypatch.setattr(connections, "MAX_IDLE_S", 0.0)
    time.sleep(0.01)
    client.request("GET", "/progress", timeout=5)
    assert server.accepted == 2


def test_nothing_listening_is_a_connect_failure(tmp_path: Path) -> None:
    client = Http1Client(socket_path=str(tmp_path / "absent.sock"), base_url="http://worker",
                         headers={})
    with pytest.raises(ConnectFailed, match="absent.sock"):
        client.request("GET", "/health", timeout=1)
    worker = WorkerClient(WorkerAddress(socket_path=str(tmp_path / "absent.sock")), "t", "p")
    with pytest.raises(WorkerConnectError, match="Cannot connect"):
        worker.call("GET", "/health")


def test_a_silent_worker_times_out(serve) -> None:
    def silent(conn: socket.socket) -> None:
        read_request(conn)
        time.sleep(30)  # a daemon thread: the test does not wait for it
    server = serve(silent)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        client_for(server).request("POST", "/execute", b"{}", timeout=0.3)
    assert time.monotonic() - started < 10  # the 0.3 s timeout, not the 30 s silence
    worker = WorkerClient(WorkerAddress(socket_path=server.path), "t", "p")
    with pytest.raises(WorkerTimeoutError, match="within 0.3 s"):
        worker.call("POST", "/execute", {}, timeout=0.3)


@pytest.mark.parametrize("cut", [b"", b"HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\n{\"half\""])
def test_a_connection_cut_mid_answer_is_broken_not_retried(serve, cut: bytes) -> None:
    requests: list[bytes] = []

    def cut_off(conn: socket.socket) -> None:
        requests.append(read_request(conn))
        conn.sendall(cut)
    server = serve(cut_off)
    with pytest.raises(ConnectionBroke):
        client_for(server).request("POST", "/execute", b"{}", timeout=5)
    assert len(requests) == 1   # the worker may have run it: never sent twice
    with pytest.raises(WorkerUnreachable) as caught:
        WorkerClient(WorkerAddress(socket_path=server.path), "t", "p").call(
            "POST", "/execute", {})
    assert not isinstance(caught.value, WorkerConnectError)


def test_garbage_instead_of_http_is_broken(serve) -> None:
    def garbage(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"SSH-2.0-OpenSSH\r\n\r\n")
    with pytest.raises(ConnectionBroke, match="not an HTTP answer"):
        client_for(serve(garbage)).request("GET", "/health", timeout=5)


def test_threads_share_the_pool_against_a_real_worker(tmp_path: Path) -> None:
    with running_worker(tmp_path, "EchoPlugin") as worker:
        worker.wait_for_health()
        client = WorkerClient(WorkerAddress(socket_path=str(worker.socket)), TOKEN, "echo")

        def calls(n: int) -> list[str]:
            return [client.call("POST", "/execute", {"args": [f"{n}-{i}"]}, timeout=10)
                    for i in range(40)]
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(calls, range(8)))
        client.close()
    for n, got in enumerate(results):  # every answer reached the thread that asked for it
        assert [r["args"] for r in got] == [[f"{n}-{i}"] for i in range(40)]
    assert client._http.pool._idle == []   # closed: nothing left open
