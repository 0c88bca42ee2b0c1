"""One write per answer: uvicorn's protocol, with an answer's head sent together with its body.

uvicorn writes an answer's head when the app starts it and the body when the app sends it: two
system calls, and the host, woken by the head, often reads it alone and waits again for the
body (measured: 4 answers in 10 split so; each split costs the host a second read, and an async
caller a second turn of its event loop). Here a head is held until the next write or the end of
the event loop's turn, whichever comes first: a unary answer, whose body the app sends right
after its head, leaves in one piece; every other write (a stream's chunks) goes out at once.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: A body up to this size is joined to its head; a larger one is written after it, uncopied.
_JOIN_AT_MOST = 64 * 1024


class _TurnWriter:
    """A transport that holds an answer's head for its body (or the end of the loop's turn)."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._head: bytes | None = None

    def write(self, data: bytes) -> None:
        head = self._head
        if head is not None:  # the body (or a stream's first chunk) joins the head
            self._head = None
            if len(data) <= _JOIN_AT_MOST:
                self._transport.write(head + data)
                return
            self._transport.write(head)  # a large body is not copied to save a system call
            self._transport.write(data)
        elif data.startswith(b"HTTP/1.1 ") and data.endswith(b"\r\n\r\n"):
            self._head = data  # an answer's head (a body never starts so: it is JSON or chunked)
            self._loop.call_soon(self.flush)
        else:
            self._transport.write(data)

    def flush(self) -> None:
        """Send a head still held (an answer with no body, or one whose body comes later)."""
        head, self._head = self._head, None
        if head is not None and not self._transport.is_closing():
            self._transport.write(head)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:  # everything else is the transport's own
        return getattr(self._transport, name)


class TurnWriteProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing through a ``_TurnWriter``."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_TurnWriter(transport, self.loop))  # type: ignore[arg-type]
