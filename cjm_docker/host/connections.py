"""Connections to one worker, pooled for the sync and the async call paths alike.

The pool is a small LIFO list guarded by a lock: a thread (or a task) takes a connection out,
owns it for one request, and puts it back when the answer ended cleanly. The sync path uses
plain sockets; the async path uses ``LoopConnection`` objects, which belong to the event loop
that opened them, so each is only handed to a task on that loop. Both kinds follow one set of
rules: a pooled connection is checked before reuse (it must not have seen the worker's close)
and dropped after sitting idle for longer than the worker's keep-alive allows.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import threading
import time
from urllib.parse import urlsplit

from cjm_docker.host.framing import ConnectFailed
from cjm_docker.host.loop_connection import LoopConnection, wait_at_most

#: Reuse a pooled connection only if it has been idle for less than this (the worker keeps
#: idle connections for 75 s: see cjm_docker.worker.server.KEEP_ALIVE_S).
MAX_IDLE_S = 30.0
_POOL_SIZE = 8
#: A socket whose timeout is not known: the first request sets it.
_UNKNOWN_TIMEOUT = -1.0


class Connection:
    """One open socket to the worker, and the timeout it has (``settimeout`` is a system call:
    made only when a request wants another)."""

    __slots__ = ("sock", "idle_since", "timeout", "_poller")

    def __init__(self, sock: socket.socket, timeout: float | None = _UNKNOWN_TIMEOUT) -> None:
        self.sock = sock
        self.idle_since = time.monotonic()
        self.timeout = timeout
        # poll(), not select(): select fails for descriptors above 1023. One poller for the
        # connection's life: a closed socket then polls as POLLNVAL, which is not usable either.
        self._poller = select.poll()
        self._poller.register(sock, select.POLLIN)

    def set_timeout(self, timeout: float | None) -> None:
        if timeout != self.timeout:
            self.sock.settimeout(timeout)
            self.timeout = timeout

    def usable(self) -> bool:
        """Whether the worker still holds this connection open (and it is not stale)."""
        if time.monotonic() - self.idle_since > MAX_IDLE_S or self.sock.fileno() < 0:
            return False  # stale, or closed (its descriptor's number may be another's now)
        try:
            readable = self._poller.poll(0)
        except (OSError, ValueError):  # closed meanwhile
            return False
        # Nothing to read: open and quiet, as it should be. Readable: the worker closed it (or
        # sent something unasked for): either way it cannot carry a request.
        return not readable

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class ConnectionPool:
    """Where one worker listens, and its idle connections.

    Args:
        socket_path: the worker's Unix socket (else ``base_url`` gives host and port).
        base_url: ``http://host:port`` for TCP.
    """

    def __init__(self, *, socket_path: str | None, base_url: str) -> None:
        self.socket_path = socket_path
        parts = urlsplit(base_url)
        self._tcp = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._idle: list[Connection] = []
        self._loop_idle: list[LoopConnection] = []
        self._lock = threading.Lock()
        self._closed = False

    def describe(self) -> str:
        return self.socket_path or f"{self._tcp[0]}:{self._tcp[1]}"

    def take(self) -> Connection | None:
        """A pooled connection the worker still holds open, or None (open a fresh one)."""
        while True:
            with self._lock:
                if not self._idle:
                    return None
                connection = self._idle.pop()
            if connection.usable():
                return connection
            connection.close()

    def give_back(self, connection: Connection, reusable: bool) -> None:
        """Pool a connection whose answer ended cleanly; close any other."""
        if reusable:
            connection.idle_since = time.monotonic()
            with self._lock:
                if not self._closed and len(self._idle) < _POOL_SIZE:
                    self._idle.append(connection)
                    return
        connection.close()

    def take_for_loop(self, loop: asyncio.AbstractEventLoop) -> LoopConnection | None:
        """A pooled connection of ``loop`` that may carry a request, or None."""
        now = time.monotonic()
        with self._lock:
            for index in range(len(self._loop_idle) - 1, -1, -1):
                connection = self._loop_idle[index]
                if connection.loop is not loop:
                    continue
                del self._loop_idle[index]
                if connection.usable() and now - connection.idle_since <= MAX_IDLE_S:
                    return connection
                connection.close()
        return None

    def give_back_for_loop(self, connection: LoopConnection, reusable: bool) -> None:
        if reusable and connection.usable():
            connection.idle_since = time.monotonic()
            with self._lock:
                # A loop that was closed leaves its connections behind: they go first.
                self._loop_idle = [c for c in self._loop_idle if not c.loop.is_closed()]
                if not self._closed and len(self._loop_idle) < _POOL_SIZE:
                    self._loop_idle.append(connection)
                    return
        connection.close()

    def _socket(self) -> tuple[socket.socket, str | tuple[str, int]]:
        if self.socket_path:
            return socket.socket(socket.AF_UNIX, socket.SOCK_STREAM), self.socket_path
        sock = socket.socket(socket.AF_INET6 if ":" in self._tcp[0] else socket.AF_INET,
                             socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, self._tcp

    def connect(self, limit: float | None) -> Connection:
        """A fresh connection (raises ``ConnectFailed``)."""
        sock, address = self._socket()
        try:
            sock.settimeout(limit)
            sock.connect(address)
        except OSError as exc:  # refused, no such socket file, unreachable, timed out
            sock.close()
            raise ConnectFailed(f"cannot connect to {self.describe()}: {exc!r}") from exc
        return Connection(sock, limit)

    async def aconnect(self, limit: float | None) -> LoopConnection:
        """A fresh connection on the running loop (raises ``ConnectFailed``)."""
        loop = asyncio.get_running_loop()
        sock, address = self._socket()
        sock.setblocking(False)
        try:
            await wait_at_most(limit, loop.sock_connect(sock, address))
            _, connection = await (loop.create_unix_connection if self.socket_path
                                   else loop.create_connection)(
                lambda: LoopConnection(loop), sock=sock)
        except OSError as exc:  # refused, no such socket file, unreachable, timed out
            sock.close()
            raise ConnectFailed(f"cannot connect to {self.describe()}: {exc!r}") from exc
        except BaseException:  # cancelled
            sock.close()
            raise
        return connection

    def close(self) -> None:
        """Close the pooled connections; requests after this still work, unpooled."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            loop_idle, self._loop_idle = self._loop_idle, []
        for connection in idle:
            connection.close()
        for loop_connection in loop_idle:
            loop_connection.close()
