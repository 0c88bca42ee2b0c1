"""One connection to a worker on an asyncio event loop (the async call path's socket).

An asyncio transport keeps the socket registered with the loop for as long as it is open, so
an async call costs one wake-up per answer: waiting through ``loop.sock_recv`` instead
registers and unregisters the socket on every read, which measured ~1.7x the CPU per call.
The price is that such a connection belongs to the loop that opened it: the pool keeps it with
that loop (``ConnectionPool``).

It also watches the connection while it sits in the pool: a close by the worker, or bytes
nobody asked for, make it unusable without a syscall.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Iterable
from typing import TypeVar

from cjm_docker.host.framing import ConnectionBroke

T = TypeVar("T")

#: Stop reading from the socket while this much has arrived unread (a large answer is parsed
#: and bounded as it comes, not buffered whole).
_HIGH_WATER = 256 * 1024


class LoopConnection(asyncio.Protocol):
    """A connection owned by one event loop; at most one request at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.idle_since = time.monotonic()
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._paused = False
        self._eof = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered > _HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake()
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        self._error = exc
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- the call path ----------------------------------------------------------------------

    def usable(self) -> bool:
        """Open and quiet: it may carry a request (the pool checks how long it was idle)."""
        transport = self.transport
        return (transport is not None and not transport.is_closing() and not self._eof
                and not self._chunks)

    def send(self, payload: Iterable[bytes]) -> bool:
        """Write a request (its head, then a large body's pieces); False when the write failed
        at once (then nothing of it can have run)."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return False
        # Each write is sent at once when the socket takes it, else buffered by the transport
        # (not writelines: before Python 3.12 it joins the parts, copying a large body).
        for part in payload:
            transport.write(part)
        return not transport.is_closing()

    async def recv(self, timeout: float | None) -> bytes:
        """What has arrived, waiting up to ``timeout`` for some; b"" at the worker's close."""
        while not self._chunks:
            if self._eof:
                if self._error is not None:
                    raise ConnectionBroke(
                        f"the connection broke reading the answer: {self._error!r}")
                return b""
            self._waiter = waiter = self.loop.create_future()
            try:
                if timeout is None:  # the usual execute: no timer, no coroutine in between
                    await waiter
                else:
                    await wait_at_most(timeout, waiter)
            finally:
                self._waiter = None
        data = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
        self._chunks.clear()
        self._buffered = 0
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return data

    def close(self) -> None:
        """Drop the connection (from any thread; a closed loop's sockets go with it)."""
        transport = self.transport
        if transport is None or self.loop.is_closed():
            return
        try:
            if self.loop.is_running() and not _on_loop(self.loop):
                self.loop.call_soon_threadsafe(transport.abort)
            else:
                transport.abort()
        except RuntimeError:  # the loop closed meanwhile
            pass


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


async def wait_at_most(limit: float | None, awaitable: Awaitable[T]) -> T:
    """Await with a time limit (None: none) that raises ``TimeoutError``."""
    if limit is None:
        return await awaitable
    if _timeout is not None:
        async with _timeout(limit):
            return await awaitable
    try:  # Python 3.10: no asyncio.timeout
        return await asyncio.wait_for(awaitable, limit)
    except asyncio.TimeoutError as exc:
        raise TimeoutError(str(exc)) from exc


_timeout = getattr(asyncio, "timeout", None)
