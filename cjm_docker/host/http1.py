"""A lean HTTP/1.1 client for the host's unary calls to a worker (execute, progress, control).

A warm trivial ``execute`` is dominated by the client: a general-purpose client (httpx) spends
~300 us of CPU per request on models, header merging and hooks, three times what the worker
spends answering it. The worker speaks plain HTTP/1.1 with Content-Length bodies, so one
pre-built request written with a single ``sendall`` and a response read with a few ``recv``
calls is all a call needs. Streams keep using httpx (``transport.py``).

Connections are kept per client in a small LIFO pool shared by threads. A pooled connection is
checked before reuse (a peek that sees the worker's close) and dropped after sitting idle for
longer than the worker's keep-alive allows, so a request is only ever written to a connection
the worker still holds open. A request is retried once on a fresh connection only when writing
it failed: the worker cannot have run it.

Errors are raised as ``ConnectFailed`` (nothing was sent), ``TimeoutError`` and
``ConnectionBroke``; ``transport.py`` turns them into cjm_docker errors at its one choke point.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

#: Reuse a pooled connection only if it has been idle for less than this (the worker keeps
#: idle connections for 75 s: see cjm_docker.worker.server.KEEP_ALIVE_S).
MAX_IDLE_S = 30.0
_POOL_SIZE = 8
_RECV = 65536
_HEAD_END = b"\r\n\r\n"
#: Bodies up to this size go out in the same ``sendall`` as the head (one copy, one syscall);
#: larger ones are sent after it, without joining (a 200 MB argument is not copied again).
_INLINE_BODY = 1 << 16


class ConnectFailed(OSError):
    """No connection could be opened: the request never left this host."""


class ConnectionBroke(OSError):
    """The connection failed after the request was (maybe) sent, or the answer was malformed."""


class BodyTooLarge(Exception):
    """The answer's body is over the caller's ``max_body`` (it was not read; the connection
    is closed)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"the answer is {size} bytes, over the limit of {limit}")
        self.size = size
        self.limit = limit


@dataclass
class Answer:
    """A worker's answer: status and body (a bytearray filled in place, never copied; the
    caller may take it out to free it early)."""

    status: int
    body: bytes | bytearray


class _Connection:
    __slots__ = ("sock", "idle_since")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.idle_since = time.monotonic()

    def usable(self) -> bool:
        """Whether the worker still holds this connection open (and it is not stale)."""
        if time.monotonic() - self.idle_since > MAX_IDLE_S:
            return False
        poller = select.poll()  # not select(): it fails for descriptors above 1023
        try:
            poller.register(self.sock, select.POLLIN)
            readable = poller.poll(0)
        except (OSError, ValueError):  # closed meanwhile
            return False
        # Nothing to read: open and quiet, as it should be. Readable: the worker closed it (or
        # sent something unasked for): either way it cannot carry a request.
        return not readable

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class Http1Client:
    """Unary HTTP/1.1 requests to one worker over a Unix socket or TCP.

    Args:
        socket_path: the worker's Unix socket (else ``base_url`` gives host and port).
        base_url: ``http://host:port`` for TCP; only its host part is sent for Unix sockets.
        headers: sent with every request (e.g. the bearer token).
    """

    def __init__(self, *, socket_path: str | None, base_url: str,
                 headers: dict[str, str]) -> None:
        self.socket_path = socket_path
        parts = urlsplit(base_url)
        self._tcp = (parts.hostname or "127.0.0.1", parts.port or 80)
        host = parts.netloc or "worker"
        fixed = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self._fixed_headers = f"host: {host}\r\n{fixed}".encode("latin-1")
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    # -- requests ---------------------------------------------------------------------------

    def request(self, method: str, path: str, content: bytes | None = None, *,
                timeout: float | None = None, connect_timeout: float | None = None,
                max_body: int | None = None) -> Answer:
        """Send one request and read the whole answer.

        Args:
            timeout: seconds any single wait (connect, write, each read) may take; None waits
                for as long as the call runs.
            connect_timeout: seconds to open a connection, when shorter than ``timeout``.
            max_body: the largest answer body accepted, in bytes (None: any).

        Raises:
            ConnectFailed: no connection could be opened (the request was not sent).
            TimeoutError: the worker was silent for ``timeout`` seconds.
            ConnectionBroke: the connection broke or the answer was not HTTP/1.1.
            BodyTooLarge: the answer is over ``max_body`` (not read).
        """
        head = self._head(method, path, content)
        small = content is None or len(content) <= _INLINE_BODY
        payload = head + content if small and content else head
        for attempt in (1, 2):
            connection = self._checkout(timeout, connect_timeout)
            try:
                connection.sock.settimeout(timeout)
                connection.sock.sendall(payload)
                if not small and content is not None:
                    connection.sock.sendall(content)
            except TimeoutError:
                connection.close()
                raise
            except OSError as exc:  # the worker never got the whole request: safe to resend
                connection.close()
                if attempt == 2:
                    raise ConnectionBroke(f"cannot send the request: {exc!r}") from exc
                continue
            try:
                answer, reusable = _read_answer(connection.sock, method, max_body)
            except BaseException:
                connection.close()
                raise
            self._checkin(connection, reusable)
            return answer
        raise AssertionError("unreachable")  # pragma: no cover

    def _head(self, method: str, path: str, content: bytes | None) -> bytes:
        if content is None:
            extra = b"content-length: 0\r\n" if method in ("POST", "PUT") else b""
        else:
            extra = b"content-type: application/json\r\ncontent-length: %d\r\n" % len(content)
        return b"%s %s HTTP/1.1\r\n%s%s\r\n" % (method.encode("ascii"), path.encode("ascii"),
                                               self._fixed_headers, extra)

    # -- the pool ---------------------------------------------------------------------------

    def _checkout(self, timeout: float | None, connect_timeout: float | None) -> _Connection:
        while True:
            with self._lock:
                connection = self._idle.pop() if self._idle else None
            if connection is None:
                return self._connect(timeout, connect_timeout)
            if connection.usable():
                return connection
            connection.close()

    def _checkin(self, connection: _Connection, reusable: bool) -> None:
        if reusable:
            connection.idle_since = time.monotonic()
            with self._lock:
                if not self._closed and len(self._idle) < _POOL_SIZE:
                    self._idle.append(connection)
                    return
        connection.close()

    def _connect(self, timeout: float | None, connect_timeout: float | None) -> _Connection:
        limit = connect_timeout if timeout is None else (
            timeout if connect_timeout is None else min(timeout, connect_timeout))
        if self.socket_path:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address: str | tuple[str, int] = self.socket_path
        else:
            sock = socket.socket(socket.AF_INET6 if ":" in self._tcp[0] else socket.AF_INET,
                                 socket.SOCK_STREAM)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            address = self._tcp
        try:
            sock.settimeout(limit)
            sock.connect(address)
        except OSError as exc:  # refused, no such socket file, unreachable, timed out
            sock.close()
            where = self.socket_path or f"{self._tcp[0]}:{self._tcp[1]}"
            raise ConnectFailed(f"cannot connect to {where}: {exc!r}") from exc
        return _Connection(sock)

    def close(self) -> None:
        """Close the pooled connections; requests after this still work, unpooled."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


def _read_answer(sock: socket.socket, method: str,
                 max_body: int | None = None) -> tuple[Answer, bool]:
    """Read one response; also whether the connection may carry another request."""
    buffer = bytearray()
    while (end := buffer.find(_HEAD_END)) < 0:
        _fill(sock, buffer, "the answer's head")
        if len(buffer) > 1 << 20:
            raise ConnectionBroke("the answer's head is over 1 MiB: not the worker")
    lines = bytes(buffer[:end]).split(b"\r\n")
    del buffer[:end + len(_HEAD_END)]
    try:
        version, code = lines[0].split(b" ", 2)[:2]
        status = int(code)
    except ValueError:
        raise ConnectionBroke(f"not an HTTP answer: {lines[0][:80]!r}") from None
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    reusable = version == b"HTTP/1.1" and headers.get(b"connection", b"").lower() != b"close"
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return Answer(status, b""), reusable
    if b"content-length" in headers:
        try:
            length = int(headers[b"content-length"])
        except ValueError:
            raise ConnectionBroke("a malformed Content-Length") from None
        if max_body is not None and length > max_body:
            raise BodyTooLarge(length, max_body)
        return Answer(status, _read_exactly(sock, buffer, length)), \
            reusable and len(buffer) <= length
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        return Answer(status, _read_chunked(sock, buffer, max_body)), reusable
    while _fill(sock, buffer, None):  # no length: the body ends when the worker closes
        if max_body is not None and len(buffer) > max_body:
            raise BodyTooLarge(len(buffer), max_body)
    return Answer(status, buffer), False


def _read_exactly(sock: socket.socket, buffer: bytearray, length: int) -> bytearray:
    """The body of known ``length``, received in place into one buffer of that size."""
    if len(buffer) >= length:
        return buffer[:length]
    body = bytearray(length)
    view = memoryview(body)
    got = len(buffer)
    view[:got] = buffer
    while got < length:
        try:
            received = sock.recv_into(view[got:], min(length - got, 1 << 22))
        except TimeoutError:
            raise
        except OSError as exc:
            raise ConnectionBroke(f"the connection broke reading the answer's body: "
                                  f"{exc!r}") from exc
        if not received:
            raise ConnectionBroke("the worker closed the connection before sending the "
                                  "answer's body")
        got += received
    view.release()
    return body


def _read_chunked(sock: socket.socket, buffer: bytearray, max_body: int | None) -> bytearray:
    body = bytearray()
    while True:
        while (end := buffer.find(b"\r\n")) < 0:
            _fill(sock, buffer, "a chunk")
        try:
            size = int(bytes(buffer[:end]).split(b";")[0], 16)
        except ValueError:
            raise ConnectionBroke("a malformed chunk size") from None
        del buffer[:end + 2]
        if max_body is not None and len(body) + size > max_body:
            raise BodyTooLarge(len(body) + size, max_body)
        while len(buffer) < size + 2:
            _fill(sock, buffer, "a chunk")
        if size == 0:  # the last chunk (no trailers from the worker)
            return body
        body += buffer[:size]
        del buffer[:size + 2]


def _fill(sock: socket.socket, buffer: bytearray, reading: str | None) -> bool:
    """Append what arrives; False at the worker's close when ``reading`` is None (expected)."""
    try:
        data = sock.recv(_RECV)
    except TimeoutError:
        raise
    except OSError as exc:
        raise ConnectionBroke(f"the connection broke reading {reading or 'the answer'}: "
                              f"{exc!r}") from exc
    if not data:
        if reading is None:
            return False
        raise ConnectionBroke(f"the worker closed the connection before sending {reading}")
    buffer += data
    return True
