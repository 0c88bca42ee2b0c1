"""The answer parser every worker call shares: each defect of the old reader has a test here.

Pure tests feed bytes to ``AnswerParser`` (every split point, so chunk boundaries never matter);
the last ones drive ``Http1Client`` against a scripted server on a real Unix socket.
"""

from __future__ import annotations

import socket

import pytest

from cjm_docker.errors import ProtocolError
from cjm_docker.host.connections import Connection
from cjm_docker.host.framing import (
    AnswerParser,
    AnswerTooLarge,
    ConnectionBroke,
    Head,
    MalformedAnswer,
)
from cjm_docker.host.transport import WorkerAddress, WorkerClient
from tests.unit.test_host_http1 import client_for, keep_answering, ok, read_request, serve

__all__ = ["serve"]  # the fixture, imported for the tests below


def parse(data: bytes, method: str = "POST", split: int | None = None,
          max_body: int | None = None) -> tuple[int, bytes, bool]:
    """Status, body and reusability of ``data`` fed in two pieces cut at ``split``."""
    parser = AnswerParser(method, max_body)
    pieces = [p for p in ([data] if split is None else [data[:split], data[split:]]) if p]
    head, body = None, b""
    while (event := parser.next_event()) is not True:
        if event is None:
            parser.feed(pieces.pop(0) if pieces else b"")
        elif isinstance(event, Head):
            head = event
        else:
            body += event
    assert head is not None
    return head.status, body, parser.reusable


def test_every_split_point_reads_the_same_answer() -> None:
    answer = (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
              b"3\r\n{\"a\r\n4;ext=1\r\n\":1}\r\n0\r\n\r\n")
    for split in range(len(answer) + 1):
        assert parse(answer, split=split) == (200, b'{"a":1}', True)


def test_an_interim_1xx_answer_is_skipped_not_returned() -> None:
    answer = (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </x>\r\n\r\n"
              + ok(b'{"x":1}'))
    assert parse(answer) == (200, b'{"x":1}', True)
    with pytest.raises(MalformedAnswer, match="101"):
        parse(b"HTTP/1.1 101 Switching Protocols\r\nupgrade: h2c\r\n\r\n")


def test_chunked_trailers_are_read_to_the_end() -> None:
    answer = (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
              b"2\r\n{}\r\n0\r\nx-checksum: 1\r\nx-more: 2\r\n\r\n")
    for split in range(len(answer) + 1):
        assert parse(answer, split=split) == (200, b"{}", True)


def test_bytes_after_the_answer_make_the_connection_not_reusable() -> None:
    assert parse(ok(b"{}") + b"HTTP/1.1 200 OK") == (200, b"{}", False)
    chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\nXX"
    assert parse(chunked) == (200, b"{}", False)


@pytest.mark.parametrize("length", [b"-1", b"+5", b"1_0", b"0x5", b"5 5", b"", b"\xd9\xa5",
                                    b"5, 6"])
def test_a_lenient_content_length_is_refused(length: bytes) -> None:
    with pytest.raises(MalformedAnswer, match="Content-Length"):
        parse(b"HTTP/1.1 200 OK\r\ncontent-length: " + length + b"\r\n\r\n{}{}{}{}")


def test_a_repeated_equal_content_length_is_one_length() -> None:
    answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 2\r\n\r\n{}"
    assert parse(answer) == (200, b"{}", True)


def test_transfer_encoding_wins_over_content_length_and_ends_the_connection() -> None:
    answer = (b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n"
              b"5\r\n{\"a\":\r\n2\r\n1}\r\n0\r\n\r\n")
    assert parse(answer) == (200, b'{"a":1}', False)


def test_other_transfer_codings_and_broken_chunks_are_refused() -> None:
    with pytest.raises(MalformedAnswer, match="Transfer-Encoding"):
        parse(b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n0\r\n\r\n")
    with pytest.raises(MalformedAnswer, match="CRLF"):
        parse(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n")
    with pytest.raises(MalformedAnswer, match="chunk size"):
        parse(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n-2\r\n{}\r\n0\r\n\r\n")


def test_a_cut_answer_is_broken_not_malformed() -> None:
    with pytest.raises(ConnectionBroke) as caught:
        parse(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n{}")
    assert not isinstance(caught.value, MalformedAnswer)


def test_an_answer_over_the_limit_is_refused_before_it_is_read() -> None:
    with pytest.raises(AnswerTooLarge):
        parse(b"HTTP/1.1 200 OK\r\ncontent-length: 900\r\n\r\n", max_body=100)
    chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + b"40\r\n" + b"x" * 64 \
        + b"\r\n" * 1 + b"40\r\n" + b"x" * 64 + b"\r\n0\r\n\r\n"
    with pytest.raises(AnswerTooLarge):
        parse(chunked, max_body=100)
    assert parse(chunked, max_body=128)[1] == b"x" * 128


def test_a_1xx_from_the_worker_never_decodes_to_a_successful_none(serve) -> None:
    def interim_first(conn: socket.socket) -> None:
        while read_request(conn):
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b'{"result":7}'))
    server = serve(interim_first)
    client = WorkerClient(WorkerAddress(socket_path=server.path), "t", "p")
    assert client.call("POST", "/execute", {}) == {"result": 7}
    assert client.call("POST", "/execute", {}) == {"result": 7}
    assert server.accepted == 1


def test_a_malformed_answer_is_a_protocol_error_naming_the_call(serve) -> None:
    def smuggling(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: +2\r\n\r\n{}")
    client = WorkerClient(WorkerAddress(socket_path=serve(smuggling).path), "t", "echo")
    with pytest.raises(ProtocolError, match="POST /execute.*Content-Length"):
        client.call("POST", "/execute", {})


def test_a_large_answer_is_collected_into_one_buffer_and_bounded(serve) -> None:
    big = b'"' + b"x" * 300_000 + b'"'
    server = serve(keep_answering(ok(big)))
    client = client_for(server)
    answer = client.request("POST", "/execute", b"{}", timeout=5)
    assert answer.body == big and isinstance(answer.body, bytearray)
    with pytest.raises(AnswerTooLarge):
        client.request("POST", "/execute", b"{}", timeout=5, max_body=1000)
    assert client.request("POST", "/execute", b"{}" + b" " * 100_000, timeout=5).body == big


def test_a_failed_write_is_retried_on_a_fresh_connection_not_the_next_pooled_one(serve) -> None:
    server = serve(keep_answering(ok()))
    client = client_for(server)
    # Two pooled connections that look open but whose worker side stopped reading (a worker
    # restarting): writing to either fails, and the second is as dead as the first.
    for _ in range(2):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(server.path)
        sock.shutdown(socket.SHUT_WR)  # our writes fail ...
        client.pool._idle.append(Connection(sock))
    client.pool.take = lambda: client.pool._idle.pop() if client.pool._idle else None
    assert client.request("GET", "/progress", timeout=5).status == 200
    assert server.accepted == 3  # the retry opened its own connection ...
    assert len(client.pool._idle) == 2  # ... and left the other pooled one alone
