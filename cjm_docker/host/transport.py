"""The host's client for one worker: every answer becomes a value or a typed error here.

Calls of every kind (sync and async, unary and streams) go through one ``Http1Client`` and its
one connection pool, over the Unix socket in the container's runtime folder or over TCP. Every
worker answer is turned into a Python value or a typed ``cjm_docker`` error here, at one choke
point (``_fail``); a broken connection becomes ``WorkerUnreachable`` so the proxy can ask
the engine why.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NoReturn

from cjm_docker import wire
from cjm_docker.codec import Pieces, decode, encode_pieces
from cjm_docker.errors import (
    AnswerTooLargeError,
    ArgumentError,
    EncodingError,
    PluginCallError,
    PluginCancelledError,
    PluginError,
    ProtocolError,
    WorkerConnectError,
    WorkerTimeoutError,
    WorkerUnreachable,
)
from cjm_docker.host.channel import CONTROL_TIMEOUT
from cjm_docker.host.framing import AnswerTooLarge
from cjm_docker.host.http1 import ConnectFailed, ConnectionBroke, Http1Client, MalformedAnswer

__all__ = ["CONTROL_TIMEOUT", "MAX_ANSWER_BYTES", "WorkerAddress", "WorkerClient",
           "WorkerConnectError", "WorkerUnreachable"]

#: The largest answer (or stream frame) read from a worker, unless the caller says otherwise
#: (cjm.yaml ``docker.max_answer_mb``): a plugin cannot make the host hold an unbounded body.
MAX_ANSWER_BYTES = 256 << 20


@dataclass(frozen=True)
class WorkerAddress:
    """Where a worker listens: a Unix socket path, or a TCP base URL."""

    socket_path: str | None = None
    base_url: str = "http://worker"

    def describe(self) -> str:
        return f"unix:{self.socket_path}" if self.socket_path else self.base_url


class _FrameSplitter:
    """Cuts a byte stream into NDJSON lines, whatever the chunk boundaries; a line longer than
    ``max_frame`` bytes raises ``AnswerTooLarge`` before it is held whole."""

    def __init__(self, max_frame: int | None = None) -> None:
        self._buffer = b""
        self._parts: list[bytes] = []  # a long line's pieces, joined once when it ends
        self._held = 0
        self._max = max_frame

    def feed(self, chunk: bytes) -> list[bytes]:
        if b"\n" not in chunk:
            self._parts.append(chunk)
            self._held += len(chunk)
            if self._max is not None and self._held + len(self._buffer) > self._max:
                raise AnswerTooLarge(self._held + len(self._buffer), self._max)
            return []
        if self._parts:
            chunk = b"".join((*self._parts, chunk))
            self._parts, self._held = [], 0
        *lines, self._buffer = (self._buffer + chunk).split(b"\n")
        if self._max is not None and any(len(line) > self._max for line in lines):
            raise AnswerTooLarge(max(len(line) for line in lines), self._max)
        return [line for line in lines if line]

    def rest(self) -> list[bytes]:
        line, self._buffer = self._buffer + b"".join(self._parts), b""
        self._parts, self._held = [], 0
        return [line] if line else []


class _Held:
    """An answer body owned by one holder, so that decoding can drop it before parsing: a
    large result then costs its text and its value, not three copies."""

    __slots__ = ("_body",)

    def __init__(self, body: bytes | bytearray) -> None:
        self._body = body

    def take(self) -> bytes | bytearray:
        body, self._body = self._body, b""
        return body

    def text(self) -> tuple[bytes, str]:
        """The first bytes (for error messages) and the body as text; the body is let go."""
        body = self.take()
        head = bytes(body[:200])
        try:
            return head, body.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            return head, "\x00"  # not JSON: json.loads reports it


class WorkerClient:
    """The ``WorkerChannel`` to one worker, over one connection pool.

    Args:
        address: where the worker listens.
        token: the container's secret token (sent on every call but health).
        plugin: the plugin name, for error messages.
        connect_timeout: seconds to open a connection, even for calls without a timeout
            (None: the call's own timeout). Attach mode sets it so that a dead replica's
            address fails fast instead of hanging an ``execute``.
        max_answer_bytes: the largest answer or stream frame accepted (``AnswerTooLargeError``
            beyond it, the body unread).
    """

    def __init__(self, address: WorkerAddress, token: str, plugin: str, *,
                 connect_timeout: float | None = None,
                 max_answer_bytes: int = MAX_ANSWER_BYTES):
        self.address = address
        self.plugin = plugin
        self.connect_timeout = connect_timeout
        self.max_answer_bytes = max_answer_bytes
        self._http = Http1Client(socket_path=address.socket_path, base_url=address.base_url,
                                 headers={"authorization": f"{wire.AUTH_SCHEME} {token}"})

    def describe(self) -> str:
        return self.address.describe()

    def _fail(self, exc: OSError, what: str, timeout: float | None) -> NoReturn:
        """Raise ``exc`` as ours: the one place transport exceptions become cjm_docker errors
        (``what`` names the call); any other ``OSError`` is raised as it is."""
        if isinstance(exc, AnswerTooLarge):
            raise AnswerTooLargeError(
                f"The worker's answer to {what} is {exc.size / 2**20:.1f} MiB, over the limit "
                f"of {exc.limit / 2**20:.0f} MiB; it was not read.", plugin=self.plugin,
                hint="Return large data as a file (a FileBackedDTO, or a path in the plugin's "
                     "data folder), or raise docker.max_answer_mb in cjm.yaml.") from None
        if isinstance(exc, ConnectFailed):
            raise WorkerConnectError(f"Cannot connect to the worker at {self.describe()} "
                                     f"for {what}: {exc}", plugin=self.plugin) from exc
        if isinstance(exc, TimeoutError):
            raise WorkerTimeoutError(f"{what} got no answer within {timeout} s.",
                                     plugin=self.plugin) from exc
        if isinstance(exc, MalformedAnswer):
            raise ProtocolError(f"The worker's answer to {what} is not valid HTTP/1.1: {exc}. "
                                "The connection was closed.", plugin=self.plugin) from exc
        if isinstance(exc, ConnectionBroke):
            raise WorkerUnreachable(f"Connection to the worker broke during {what}: {exc}",
                                    plugin=self.plugin) from exc
        raise exc

    @contextmanager
    def _translated(self, what: str, timeout: float | None) -> Iterator[None]:
        """``_fail`` around a stream's reads (a unary call catches with a plain ``try``: the
        hot path pays for no context manager)."""
        try:
            yield
        except OSError as exc:
            self._fail(exc, what, timeout)

    def _encoded(self, body: Any, path: str) -> bytes | Pieces | None:
        """A request body by the codec's rules (a long string in pieces, never copied whole);
        a value outside them is refused before anything is sent."""
        if body is None:
            return None
        try:
            return encode_pieces(body, "body")
        except EncodingError as exc:
            raise ArgumentError(f"The request body for {path} cannot be sent: {exc.message}.",
                                plugin=self.plugin, hint="Pass JSON-compatible values.") from None

    # -- unary calls ------------------------------------------------------------------------

    def call(self, method: str, path: str, body: Any = None, *,
             timeout: float | None = CONTROL_TIMEOUT) -> Any:
        """Send one request and return the decoded answer (raises typed errors)."""
        content = self._encoded(body, path)
        try:
            answer = self._http.request(method, path, content, timeout=timeout,
                                        connect_timeout=self.connect_timeout,
                                        max_body=self.max_answer_bytes)
        except OSError as exc:
            self._fail(exc, f"{method} {path}", timeout)
        del content
        # Hand the body over (the answer keeps no reference): decoding frees it before parsing.
        held = _Held(answer.body)
        answer.body = b""
        return self._decode(answer.status, held, path)

    async def acall(self, method: str, path: str, body: Any = None, *,
                    timeout: float | None = CONTROL_TIMEOUT) -> Any:
        """The async twin of ``call``."""
        content = self._encoded(body, path)
        try:
            answer = await self._http.arequest(method, path, content, timeout=timeout,
                                               connect_timeout=self.connect_timeout,
                                               max_body=self.max_answer_bytes)
        except OSError as exc:
            self._fail(exc, f"{method} {path}", timeout)
        del content
        held = _Held(answer.body)
        answer.body = b""
        return self._decode(answer.status, held, path)

    def health(self, timeout: float = 2.0) -> dict[str, Any]:
        """GET /health (no token needed); raises WorkerUnreachable when nothing answers."""
        return self.call("GET", "/health", timeout=timeout)

    # -- streams ----------------------------------------------------------------------------

    def stream(self, path: str, body: Any, *, timeout: float | None = None) -> Iterator[Any]:
        """POST and yield each data frame's value; an error frame is raised, never yielded.

        ``timeout`` bounds each silent stretch of the stream, not the whole stream.
        """
        frames = _FrameSplitter(self.max_answer_bytes)
        events = self._http.stream("POST", path, self._encoded(body, path), timeout=timeout,
                                   connect_timeout=self.connect_timeout)
        with self._translated(f"stream {path}", timeout):
            try:
                head = next(events)
                if head.status != 200:  # type: ignore[union-attr]
                    rest = b"".join(events)  # type: ignore[arg-type]
                    self._decode(head.status, _Held(rest), path)  # type: ignore[union-attr]
                for piece in events:
                    for line in frames.feed(piece):  # type: ignore[arg-type]
                        yield from self._frame(line)
                for line in frames.rest():
                    yield from self._frame(line)
            finally:
                events.close()

    async def astream(self, path: str, body: Any, *,
                      timeout: float | None = None) -> AsyncIterator[Any]:
        """The async twin of ``stream``."""
        frames = _FrameSplitter(self.max_answer_bytes)
        events = self._http.astream("POST", path, self._encoded(body, path), timeout=timeout,
                                    connect_timeout=self.connect_timeout)
        with self._translated(f"stream {path}", timeout):
            try:
                head = await events.__anext__()
                if head.status != 200:  # type: ignore[union-attr]
                    rest = b"".join([piece async for piece in events])  # type: ignore[misc]
                    self._decode(head.status, _Held(rest), path)  # type: ignore[union-attr]
                async for piece in events:
                    for line in frames.feed(piece):  # type: ignore[arg-type]
                        for value in self._frame(line):
                            yield value
                for line in frames.rest():
                    for value in self._frame(line):
                        yield value
            finally:
                await events.aclose()

    def _frame(self, line: bytes) -> Iterator[Any]:
        try:
            frame = decode(line)
            kind = frame["type"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ProtocolError(f"Malformed stream frame from the worker: {line[:200]!r}",
                                plugin=self.plugin) from exc
        if kind == "data":
            yield frame.get("data")
        elif kind == "error":
            raise self._error(frame.get("error") or {}, 500)
        elif kind != "end":
            raise ProtocolError(f"Unknown stream frame type {kind!r}.", plugin=self.plugin)

    # -- answers ----------------------------------------------------------------------------

    def _decode(self, status: int, held: _Held, path: str) -> Any:
        if status < 300:
            head, text = held.text()  # the body is freed here: only the text and result remain
            try:
                return decode(text) if text else None
            except ValueError as exc:
                raise ProtocolError(f"The worker answered {path} with non-JSON: "
                                    f"{head!r}", plugin=self.plugin) from exc
        content = held.take()
        try:
            error = decode(content).get("error")
        except (ValueError, AttributeError):
            error = None
        if not isinstance(error, dict):
            text = content[:300].decode("utf-8", "replace")
            raise ProtocolError(f"The worker answered {path} with HTTP {status}: {text}",
                                plugin=self.plugin)
        raise self._error(error, status)

    def _error(self, error: dict[str, Any], status: int) -> PluginError:
        category = error.get("category", "")
        remote_type = str(error.get("type", ""))
        message = str(error.get("message", ""))
        tb = str(error.get("traceback", ""))
        if category == wire.ErrorCategory.CANCELLED.value or status == wire.STATUS_CANCELLED:
            return PluginCancelledError(f"The call was cancelled: {message}", plugin=self.plugin,
                                        remote_type=remote_type, remote_message=message,
                                        remote_traceback=tb)
        if category == wire.ErrorCategory.UNAUTHORIZED.value:
            return ProtocolError("The worker refused our token (wrong container?).",
                                 plugin=self.plugin)
        if category == wire.ErrorCategory.ENCODING.value:
            return PluginCallError(f"The plugin's result cannot cross the wire: {message}",
                                   plugin=self.plugin, remote_type=remote_type,
                                   remote_message=message, remote_traceback=tb,
                                   hint="Return JSON-compatible values (dicts, lists, dataclasses).")
        where = "raised" if category == wire.ErrorCategory.PLUGIN.value else f"failed ({category})"
        return PluginCallError(f"The plugin {where} {remote_type}: {message}", plugin=self.plugin,
                               remote_type=remote_type, remote_message=message, remote_traceback=tb)

    # -- lifecycle --------------------------------------------------------------------------

    def close(self) -> None:
        """Close the pooled connections (calls after this still work, unpooled)."""
        self._http.close()

    async def aclose(self) -> None:
        """Close the pooled connections from async code."""
        self._http.close()
