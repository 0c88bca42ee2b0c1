"""One write per answer: uvicorn's protocol, with the head and body of an answer sent together.

uvicorn writes an answer's head when the app starts it and the body when the app sends it: two
system calls, and the host, woken by the head, often reads it alone and waits again for the
body (measured: 4 answers in 10 split so; each split costs the host a second read, and an async
caller a second turn of its event loop). Here the writes of one event-loop turn are held and
sent as one at the end of the turn: an answer whose head and body the app sends back to back
(every unary answer of this worker) leaves in one piece, and a stream's chunks still leave as
they come, a turn at a time.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class _TurnWriter:
    """A transport whose writes wait for the end of the loop's turn, then go as one."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._held:
            self._loop.call_soon(self.flush)
        self._held.append(data)

    def flush(self) -> None:
        held, self._held = self._held, []
        if held and not self._transport.is_closing():
            self._transport.write(held[0] if len(held) == 1 else b"".join(held))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:  # everything else is the transport's own
        return getattr(self._transport, name)


class TurnWriteProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing through a ``_TurnWriter``."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_TurnWriter(transport, self.loop))  # type: ignore[arg-type]
