"""The host's HTTP/1.1 client for one worker: unary calls and streams, sync and async.

A warm trivial ``execute`` is dominated by the client: a general-purpose client (httpx) spends
~300 us of CPU per request on models, header merging and hooks, three times what the worker
spends answering it. The worker speaks plain HTTP/1.1, so one pre-built request written with a
single ``sendall`` and an answer read with a few ``recv`` calls is all a call needs.

Both paths share everything but the waiting: the request bytes and the answer's framing come
from ``framing.py``, the connections and their rules from one ``ConnectionPool``; the sync path
blocks on a socket, the async path awaits an asyncio transport on the running loop
(``loop_connection.py``). A request is resent once, on a fresh connection, only when writing it failed:
the worker cannot have run it.

``timeout`` bounds every single wait (connect, write, each read), so for a stream it bounds each
silent stretch, not the whole stream. Errors are raised as ``ConnectFailed`` (nothing was sent),
``TimeoutError``, ``ConnectionBroke`` and ``MalformedAnswer``; ``transport.py`` turns them into
cjm_docker errors at its one choke point.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncGenerator, Generator, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from cjm_docker.host.connections import Connection, ConnectionPool
from cjm_docker.host.framing import (
    INLINE_BODY,
    AnswerParser,
    ConnectFailed,
    ConnectionBroke,
    Content,
    Head,
    MalformedAnswer,
    encode_request,
)
from cjm_docker.host.loop_connection import LoopConnection

__all__ = ["Answer", "ConnectFailed", "ConnectionBroke", "Head", "Http1Client",
           "MalformedAnswer"]

_RECV = 65536


@dataclass
class Answer:
    """A worker's answer: status and body (one buffer, filled in place; the caller may take
    it out to free it early)."""

    status: int
    body: bytes | bytearray


class _Body:
    """Collects an answer's body: into one buffer of the declared size when the head gave it
    (a large answer costs its size once, not its pieces plus their join)."""

    __slots__ = ("parts", "buffer", "at")

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.buffer: bytearray | None = None
        self.at = 0

    def sized(self, length: int | None) -> None:
        if length is not None and length > INLINE_BODY:
            self.buffer = bytearray(length)

    def add(self, piece: bytes) -> None:
        if self.buffer is None:
            self.parts.append(piece)
        else:
            self.buffer[self.at:self.at + len(piece)] = piece
            self.at += len(piece)

    def value(self) -> bytes | bytearray:
        if self.buffer is not None:
            return self.buffer
        return self.parts[0] if len(self.parts) == 1 else b"".join(self.parts)


def _limit(timeout: float | None, connect_timeout: float | None) -> float | None:
    if timeout is None:
        return connect_timeout
    return timeout if connect_timeout is None else min(timeout, connect_timeout)


class Http1Client:
    """HTTP/1.1 requests to one worker over a Unix socket or TCP.

    Args:
        socket_path: the worker's Unix socket (else ``base_url`` gives host and port).
        base_url: ``http://host:port`` for TCP; only its host part is sent for Unix sockets.
        headers: sent with every request (e.g. the bearer token).
    """

    def __init__(self, *, socket_path: str | None, base_url: str,
                 headers: dict[str, str]) -> None:
        self.pool = ConnectionPool(socket_path=socket_path, base_url=base_url)
        host = urlsplit(base_url).netloc or "worker"
        fixed = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self._fixed_headers = f"host: {host}\r\n{fixed}".encode("latin-1")

    def _payload(self, method: str, path: str, content: Content) -> Iterable[bytes]:
        return encode_request(method, path, self._fixed_headers, content)

    # -- sync -------------------------------------------------------------------------------

    def request(self, method: str, path: str, content: Content = None, *,
                timeout: float | None = None, connect_timeout: float | None = None,
                max_body: int | None = None) -> Answer:
        """Send one request and read the whole answer.

        Args:
            max_body: the largest answer body accepted (``AnswerTooLarge`` beyond; None: any).

        Raises:
            ConnectFailed: no connection could be opened (the request was not sent).
            TimeoutError: the worker was silent for ``timeout`` seconds.
            ConnectionBroke: the connection broke (``MalformedAnswer``: not HTTP/1.1).
        """
        connection = self._send(self._payload(method, path, content), timeout, connect_timeout)
        parser = AnswerParser(method, max_body)
        head: Head | None = None
        body = _Body()
        try:
            parser.feed(_recv(connection.sock))  # a fresh parser needs bytes before any event
            while (event := parser.next_event()) is not True:
                if event is None:
                    parser.feed(_recv(connection.sock))
                elif type(event) is bytes:
                    body.add(event)
                else:
                    head = event  # type: ignore[assignment]
                    body.sized(parser.body_length)
        except BaseException:
            connection.close()
            raise
        self.pool.give_back(connection, parser.reusable)
        assert head is not None
        return Answer(head.status, body.value())

    def stream(self, method: str, path: str, content: Content = None, *,
               timeout: float | None = None,
               connect_timeout: float | None = None) -> Generator[Head | bytes, None, None]:
        """Send one request; yield the answer's ``Head``, then its body as it arrives."""
        connection = self._send(self._payload(method, path, content), timeout, connect_timeout)
        parser = AnswerParser(method)  # a stream's frames are bounded one by one, by the caller
        ended = False
        try:
            while (event := parser.next_event()) is not True:
                if event is None:
                    parser.feed(_recv(connection.sock))
                else:
                    yield event  # type: ignore[misc]
            ended = True
        finally:  # an abandoned stream leaves its connection mid-answer: never reused
            self.pool.give_back(connection, ended and parser.reusable)

    def _send(self, payload: Iterable[bytes], timeout: float | None,
              connect_timeout: float | None) -> Connection:
        connection = self.pool.take() or self.pool.connect(_limit(timeout, connect_timeout))
        for attempt in (1, 2):
            try:
                connection.set_timeout(timeout)
                for part in payload:  # a large body's pieces one by one, never joined
                    connection.sock.sendall(part)
                return connection
            except TimeoutError:
                connection.close()
                raise
            except OSError as exc:  # the worker never got the whole request: safe to resend
                connection.close()
                if attempt == 2:
                    raise ConnectionBroke(f"cannot send the request: {exc!r}") from exc
            # Not the next pooled one: it may have been closed by the same cause.
            connection = self.pool.connect(_limit(timeout, connect_timeout))
        raise AssertionError("unreachable")  # pragma: no cover

    # -- async ------------------------------------------------------------------------------

    async def arequest(self, method: str, path: str, content: Content = None, *,
                       timeout: float | None = None, connect_timeout: float | None = None,
                       max_body: int | None = None) -> Answer:
        """The async twin of ``request``."""
        connection = await self._asend(self._payload(method, path, content), timeout,
                                       connect_timeout)
        parser = AnswerParser(method, max_body)
        head: Head | None = None
        body = _Body()
        try:
            parser.feed(await connection.recv(timeout))  # nothing to parse before the first bytes
            while (event := parser.next_event()) is not True:
                if event is None:
                    parser.feed(await connection.recv(timeout))
                elif type(event) is bytes:
                    body.add(event)
                else:
                    head = event  # type: ignore[assignment]
                    body.sized(parser.body_length)
        except BaseException:  # cancelled included: the answer's rest would confuse the next
            connection.close()
            raise
        self.pool.give_back_for_loop(connection, parser.reusable)
        assert head is not None
        return Answer(head.status, body.value())

    async def astream(self, method: str, path: str, content: Content = None, *,
                      timeout: float | None = None,
                      connect_timeout: float | None = None) -> AsyncGenerator[Head | bytes, None]:
        """The async twin of ``stream``."""
        connection = await self._asend(self._payload(method, path, content), timeout,
                                       connect_timeout)
        parser = AnswerParser(method)  # a stream's frames are bounded one by one, by the caller
        ended = False
        try:
            while (event := parser.next_event()) is not True:
                if event is None:
                    parser.feed(await connection.recv(timeout))
                else:
                    yield event  # type: ignore[misc]
            ended = True
        finally:
            self.pool.give_back_for_loop(connection, ended and parser.reusable)

    async def _asend(self, payload: Iterable[bytes], timeout: float | None,
                     connect_timeout: float | None) -> LoopConnection:
        limit = _limit(timeout, connect_timeout)
        loop = asyncio.get_running_loop()
        connection = self.pool.take_for_loop(loop) or await self.pool.aconnect(limit)
        if connection.send(payload):
            return connection
        # The write failed at once, so the worker cannot have the request: resend it once,
        # on a fresh connection (not the next pooled one: the same cause may have closed it).
        connection.close()
        connection = await self.pool.aconnect(limit)
        if connection.send(payload):
            return connection
        connection.close()
        raise ConnectionBroke("cannot send the request: the worker closed the connection")

    # -- lifecycle --------------------------------------------------------------------------

    def close(self) -> None:
        """Close the pooled connections; requests after this still work, unpooled."""
        self.pool.close()


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(_RECV)
    except TimeoutError:
        raise
    except OSError as exc:
        raise ConnectionBroke(f"the connection broke reading the answer: {exc!r}") from exc
