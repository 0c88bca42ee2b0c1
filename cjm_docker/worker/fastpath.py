"""The hot endpoints served as plain ASGI, in front of FastAPI.

``POST /execute`` and ``GET /progress`` are what a busy host calls thousands of times; FastAPI's
middleware stack, routing and dependency solving cost about as much as the rest of the request
together. This layer answers them directly with the same handlers' logic and the same error
bodies; FastAPI keeps serving everything else and still describes these two in /openapi.json.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from cjm_docker.codec import encode
from cjm_docker.worker.failures import CallFailed, internal

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_HEADERS_JSON = [(b"content-type", b"application/json")]
_EXECUTE = ("POST", "/execute")
_PROGRESS = ("GET", "/progress")


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _answer(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [*_HEADERS_JSON, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class FastPath:
    """Serves ``POST /execute`` and ``GET /progress`` without FastAPI (auth runs before it).

    Args:
        app: the FastAPI app, for every other request.
        host: the PluginHost.
        parse_call_body: the app's body parser (one definition of the body's shape).
    """

    def __init__(self, app: ASGIApp, host: Any,
                 parse_call_body: Callable[[bytes], tuple[list[Any], dict[str, Any]]]) -> None:
        self.app = app
        self.host = host
        self.parse_call_body = parse_call_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            route = (scope["method"], scope["path"])
            if route == _EXECUTE:
                await self._answer_guarded(send, route, self._execute(receive))
                return
            if route == _PROGRESS:
                await self._answer_guarded(send, route, self._progress())
                return
        await self.app(scope, receive, send)

    async def _execute(self, receive: Receive) -> bytes:
        args, kwargs = self.parse_call_body(await _read_body(receive))
        return await self.host.execute(args, kwargs)

    async def _progress(self) -> bytes:
        return encode(self.host.progress())

    async def _answer_guarded(self, send: Send, route: tuple[str, str],
                              answer: Awaitable[bytes]) -> None:
        """Send 200 with the answer, or the wire's error body (the app's handlers, inlined)."""
        try:
            status, body = 200, await answer
        except CallFailed as exc:
            status, body = exc.status, encode(exc.body)
        except Exception as exc:  # the same last resort as the app's handler: never a bare 500
            log.error("internal error answering %s %s", *route, exc_info=exc)
            status, body = 500, encode(internal(exc).body)
        await _answer(send, status, body)
