"""Streams: the plugin's generator runs on the plugin thread, the event loop sends its output.

Each chunk is encoded into an NDJSON frame on the plugin thread and appended to a ``LinePipe``.
The event loop is woken only when it is waiting for lines (one ``call_soon_threadsafe`` per
wait, not per chunk) and then sends every accumulated line as one body chunk, so a fast
generator costs one wake-up and one socket write per batch instead of per chunk. The producer
waits when too much is pending, which bounds memory when the client reads slowly.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from cjm_docker.codec import EncodingError, describe_failure, encode
from cjm_docker.worker.failures import CallFailed, encoding_failure, log_failure, plugin_failure

if TYPE_CHECKING:
    from cjm_docker.worker.calls import Call

log = logging.getLogger(__name__)

DATA_PREFIX = b'{"type":"data","data":'
END_LINE = b'{"type":"end"}\n'

MAX_PENDING_LINES = 1000
MAX_PENDING_BYTES = 8 << 20


class LinePipe:
    """Hands encoded lines from the plugin thread (producer) to the event loop (consumer).

    Args:
        loop: the event loop the consumer runs on.
        max_lines: the producer waits while this many lines are pending...
        max_bytes: ...or this many bytes (a single larger line still passes).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, *, max_lines: int = MAX_PENDING_LINES,
                 max_bytes: int = MAX_PENDING_BYTES) -> None:
        self.call: Call | None = None  # set once the stream starts on the plugin thread
        self.drained = False           # the consumer has taken every line, the last included
        self._loop = loop
        self._max_lines = max_lines
        self._max_bytes = max_bytes
        self._lines: deque[bytes] = deque()
        self._bytes = 0
        self._cond = threading.Condition()
        self._wakeup = asyncio.Event()
        self._waiting = False      # the consumer sleeps on _wakeup (guarded by _cond)
        self._finished = False     # the producer put its last line
        self._abandoned = False    # the consumer is gone (client disconnected)

    @property
    def abandoned(self) -> bool:
        """True once the consumer went away."""
        return self._abandoned

    # -- producer (plugin thread) --------------------------------------------------------------

    def put(self, line: bytes) -> bool:
        """Append one line, waiting while the pipe is full; False when the consumer is gone."""
        with self._cond:
            while self._lines and not self._abandoned and (
                    len(self._lines) >= self._max_lines or self._bytes >= self._max_bytes):
                self._cond.wait()
            if self._abandoned:
                return False
            self._lines.append(line)
            self._bytes += len(line)
            self._wake_consumer()
        return True

    def finish(self) -> None:
        """No more lines will come."""
        with self._cond:
            self._finished = True
            self._wake_consumer()

    def _wake_consumer(self) -> None:
        # Called with _cond held. The flag makes this one wake-up per wait, not one per line.
        if self._waiting:
            self._waiting = False
            try:
                self._loop.call_soon_threadsafe(self._wakeup.set)
            except RuntimeError:  # the loop is closed: nobody is left to read
                self._abandoned = True

    # -- consumer (event loop) -----------------------------------------------------------------

    def abandon(self) -> None:
        """The consumer is gone: release a waiting producer and refuse further lines."""
        with self._cond:
            self._abandoned = True
            self._cond.notify_all()

    async def batches(self) -> AsyncIterator[bytes]:
        """Yield everything pending as one bytes object at a time, until the producer ends."""
        while True:
            with self._cond:
                if self._lines:
                    data: bytes | None = b"".join(self._lines)
                    self._lines.clear()
                    self._bytes = 0
                    self._cond.notify_all()
                elif self._finished:
                    self.drained = True
                    return
                else:
                    data = None
                    self._waiting = True
                    self._wakeup.clear()
            if data is None:
                await self._wakeup.wait()
            else:
                yield data


def produce(plugin: Any, call: Call, args: list[Any], kwargs: dict[str, Any],
            pipe: LinePipe) -> None:
    """Run the plugin's stream on this (the plugin) thread, writing NDJSON frames to ``pipe``.

    Data frames, then an end frame; or, on any failure, an error frame as the last one. A
    plugin without ``execute_stream`` streams the single result of ``execute``.
    """
    source: Any = None
    index = 0
    try:
        if pipe.abandoned:  # the client left while this call waited for the plugin thread
            return
        method = getattr(plugin, "execute_stream", None)
        if callable(method):
            source = method(*args, **kwargs)
            chunks = iter(source)
        else:
            chunks = iter((plugin.execute(*args, **kwargs),))
        put = pipe.put
        for chunk in chunks:
            try:
                payload = encode(chunk)
            except EncodingError as exc:  # say which chunk: rare, so worth a second walk
                raise describe_failure(chunk, f"chunks[{index}]", exc) from exc
            if not put(DATA_PREFIX + payload + b"}\n"):
                return  # the client left; ``finally`` closes the generator
            index += 1
        put(END_LINE)
    except EncodingError as exc:
        _put_failure(pipe, encoding_failure(exc), exc)
    except BaseException as exc:
        _put_failure(pipe, plugin_failure(exc, cancel_requested=call.cancel_requested), exc)
    finally:
        close = getattr(source, "close", None)
        if callable(close):
            try:
                close()  # runs the generator's finally blocks, on the thread that ran it
            except Exception as exc:
                log.warning("closing the plugin's stream raised: %r", exc)
        pipe.finish()


def _put_failure(pipe: LinePipe, failure: CallFailed, exc: BaseException) -> None:
    log_failure("execute_stream", failure)
    pipe.put(encode(failure.frame(), root="error") + b"\n")
