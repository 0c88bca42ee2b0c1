"""The host's HTTP client for one worker: the only module that imports httpx.

Persistent connections per container, over the Unix socket in the container's runtime folder
or over TCP: sync unary calls (execute, progress, control) go through the lean ``http1`` client,
streams through an httpx client, async calls through an httpx client per event loop. Every
worker answer is turned into a Python value or a typed ``cjm_docker`` error here, at one choke
point; a broken connection becomes ``WorkerUnreachable`` so the proxy can ask the engine why.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from cjm_docker import wire
from cjm_docker.errors import (
    AnswerTooLargeError,
    PluginCallError,
    PluginCancelledError,
    PluginError,
    ProtocolError,
    WorkerTimeoutError,
)
from cjm_docker.host.http1 import BodyTooLarge, ConnectFailed, ConnectionBroke, Http1Client

#: Timeouts for control calls; execute and streams have none unless the caller sets one.
CONTROL_TIMEOUT = 10.0
#: The largest answer (or stream frame) read from a worker, unless the caller says otherwise
#: (cjm.yaml ``docker.max_answer_mb``): a plugin cannot make the host hold an unbounded body.
MAX_ANSWER_BYTES = 256 << 20
_JSON = {"content-type": "application/json"}
_TRANSPORT_ERRORS = (httpx.TransportError, ConnectionBroke)
# No connection was opened, so the request never left this host (ConnectTimeout is also a
# TimeoutException: these are caught first).
_CONNECT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, ConnectFailed)


class WorkerUnreachable(PluginError):
    """The connection to the worker failed or broke (the caller checks whether it died)."""


class WorkerConnectError(WorkerUnreachable):
    """No connection could be opened: the request never reached the worker.

    Any call, ``execute`` included, may be retried elsewhere after this one (attach mode does).
    """


@dataclass(frozen=True)
class WorkerAddress:
    """Where a worker listens: a Unix socket path, or a TCP base URL."""

    socket_path: str | None = None
    base_url: str = "http://worker"

    def describe(self) -> str:
        return f"unix:{self.socket_path}" if self.socket_path else self.base_url


class _FrameSplitter:
    """Cuts a byte stream into NDJSON lines, whatever the chunk boundaries; a line longer than
    ``max_frame`` bytes raises ``BodyTooLarge`` before it is held whole."""

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
                raise BodyTooLarge(self._held + len(self._buffer), self._max)
            return []
        if self._parts:
            chunk = b"".join((*self._parts, chunk))
            self._parts, self._held = [], 0
        *lines, self._buffer = (self._buffer + chunk).split(b"\n")
        if self._max is not None and any(len(line) > self._max for line in lines):
            raise BodyTooLarge(max(len(line) for line in lines), self._max)
        return [line for line in lines if line]

    def rest(self) -> list[bytes]:
        line, self._buffer = self._buffer + b"".join(self._parts), b""
        self._parts, self._held = [], 0
        return [line] if line else []


def encode_body(value: Any) -> bytes:
    """JSON-encode a request body (NaN allowed: both sides are Python)."""
    return json.dumps(value, separators=(",", ":")).encode()


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
    """A pooled HTTP client for one worker.

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
        self._headers = {"authorization": f"{wire.AUTH_SCHEME} {token}"}
        self._unary = Http1Client(socket_path=address.socket_path, base_url=address.base_url,
                                  headers=self._headers)
        # httpx clients cost ~20 ms each to create (an SSL context): only streams need one.
        self._sync: httpx.Client | None = None
        self._async: httpx.AsyncClient | None = None
        self._async_loop: asyncio.AbstractEventLoop | None = None

    def _stream_client(self) -> httpx.Client:
        if self._sync is None:
            transport = httpx.HTTPTransport(uds=self.address.socket_path) \
                if self.address.socket_path else httpx.HTTPTransport()
            self._sync = httpx.Client(transport=transport, base_url=self.address.base_url,
                                      headers=self._headers, timeout=None)
        return self._sync

    def _async_client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._async is None or self._async_loop is not loop:
            # An AsyncClient's connections belong to the loop that opened them.
            transport = httpx.AsyncHTTPTransport(uds=self.address.socket_path) \
                if self.address.socket_path else httpx.AsyncHTTPTransport()
            self._async = httpx.AsyncClient(transport=transport, base_url=self.address.base_url,
                                            headers=self._headers, timeout=None)
            self._async_loop = loop
        return self._async

    def _timeout(self, timeout: float | None) -> float | None | httpx.Timeout:
        if self.connect_timeout is None:
            return timeout
        connect = self.connect_timeout if timeout is None else min(timeout, self.connect_timeout)
        return httpx.Timeout(timeout, connect=connect)

    def _unreachable(self, exc: Exception, during: str) -> WorkerUnreachable:
        if isinstance(exc, _CONNECT_ERRORS):
            return WorkerConnectError(f"Cannot connect to the worker at {self.address.describe()} "
                                      f"for {during}: {exc!r}", plugin=self.plugin)
        return WorkerUnreachable(f"Connection to the worker broke during {during}: {exc!r}",
                                 plugin=self.plugin)

    @contextmanager
    def _translated(self, what: str, timeout: float | None) -> Iterator[None]:
        """The one place transport exceptions become ours (``what`` names the call)."""
        try:
            yield
        except BodyTooLarge as exc:
            raise AnswerTooLargeError(
                f"The worker's answer to {what} is {exc.size / 2**20:.1f} MiB, over the limit "
                f"of {exc.limit / 2**20:.0f} MiB; it was not read.", plugin=self.plugin,
                hint="Return large data as a file (a FileBackedDTO, or a path in the plugin's "
                     "data folder), or raise docker.max_answer_mb in cjm.yaml.") from None
        except _CONNECT_ERRORS as exc:
            raise self._unreachable(exc, what) from exc
        except (httpx.TimeoutException, TimeoutError) as exc:
            raise WorkerTimeoutError(f"{what} got no answer within {timeout} s.",
                                     plugin=self.plugin) from exc
        except _TRANSPORT_ERRORS as exc:
            raise self._unreachable(exc, what) from exc

    # -- unary calls ------------------------------------------------------------------------

    def call(self, method: str, path: str, body: Any = None, *,
             timeout: float | None = CONTROL_TIMEOUT) -> Any:
        """Send one request and return the decoded answer (raises typed errors)."""
        content = encode_body(body) if body is not None else None
        with self._translated(f"{method} {path}", timeout):
            answer = self._unary.request(method, path, content, timeout=timeout,
                                         connect_timeout=self.connect_timeout,
                                         max_body=self.max_answer_bytes)
        del content
        # Hand the body over (the answer keeps no reference): decoding frees it before parsing.
        held = _Held(answer.body)
        answer.body = b""
        return self._decode(answer.status, held, path)

    async def acall(self, method: str, path: str, body: Any = None, *,
                    timeout: float | None = CONTROL_TIMEOUT) -> Any:
        """The async twin of ``call``."""
        content = encode_body(body) if body is not None else None
        with self._translated(f"{method} {path}", timeout):
            async with self._async_client().stream(
                    method, path, content=content, headers=_JSON if content else None,
                    timeout=self._timeout(timeout)) as response:
                declared = int(response.headers.get("content-length") or 0)
                if declared > self.max_answer_bytes:
                    raise BodyTooLarge(declared, self.max_answer_bytes)
                parts, size = [], 0
                async for part in response.aiter_raw():
                    size += len(part)
                    if size > self.max_answer_bytes:
                        raise BodyTooLarge(size, self.max_answer_bytes)
                    parts.append(part)
        return self._decode(response.status_code, _Held(b"".join(parts)), path)

    def health(self, timeout: float = 2.0) -> dict[str, Any]:
        """GET /health (no token needed); raises WorkerUnreachable when nothing answers."""
        return self.call("GET", "/health", timeout=timeout)

    # -- streams ----------------------------------------------------------------------------

    def stream(self, path: str, body: Any, *, timeout: float | None = None) -> Iterator[Any]:
        """POST and yield each data frame's value; an error frame is raised, never yielded.

        ``timeout`` bounds each silent stretch of the stream, not the whole stream.
        """
        frames = _FrameSplitter(self.max_answer_bytes)
        with self._translated(f"stream {path}", timeout), self._stream_client().stream(
                "POST", path, content=encode_body(body), headers=_JSON,
                timeout=self._timeout(timeout)) as response:
            if response.status_code != 200:
                self._decode(response.status_code, _Held(response.read()), path)
            for chunk in response.iter_raw():
                for line in frames.feed(chunk):
                    yield from self._frame(line)
            for line in frames.rest():
                yield from self._frame(line)

    async def astream(self, path: str, body: Any, *,
                      timeout: float | None = None) -> AsyncIterator[Any]:
        """The async twin of ``stream``."""
        frames = _FrameSplitter(self.max_answer_bytes)
        with self._translated(f"stream {path}", timeout):
            async with self._async_client().stream(
                    "POST", path, content=encode_body(body), headers=_JSON,
                    timeout=self._timeout(timeout)) as response:
                if response.status_code != 200:
                    self._decode(response.status_code, _Held(await response.aread()), path)
                async for chunk in response.aiter_raw():
                    for line in frames.feed(chunk):
                        for value in self._frame(line):
                            yield value
                for line in frames.rest():
                    for value in self._frame(line):
                        yield value

    def _frame(self, line: bytes) -> Iterator[Any]:
        try:
            frame = json.loads(line)
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
                return json.loads(text) if text else None
            except ValueError as exc:
                raise ProtocolError(f"The worker answered {path} with non-JSON: "
                                    f"{head!r}", plugin=self.plugin) from exc
        content = held.take()
        try:
            error = json.loads(content).get("error")
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
        """Close the pools (async pool: best effort when its loop is gone)."""
        self._unary.close()
        sync, self._sync = self._sync, None
        if sync is not None:
            sync.close()
        client, self._async = self._async, None
        if client is not None:
            loop = self._async_loop
            try:
                if loop is not None and loop.is_running():
                    # close() may run on another thread (a restart): hand the coroutine over.
                    asyncio.run_coroutine_threadsafe(client.aclose(), loop)
                elif loop is not None and not loop.is_closed():
                    loop.run_until_complete(client.aclose())
            except RuntimeError:
                pass

    async def aclose(self) -> None:
        """Close the pools from async code."""
        self._unary.close()
        sync, self._sync = self._sync, None
        if sync is not None:
            sync.close()
        client, self._async = self._async, None
        if client is not None:
            await client.aclose()
