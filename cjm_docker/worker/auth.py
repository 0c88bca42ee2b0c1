"""Bearer-token check for every request but ``/health``, as plain ASGI middleware.

Plain ASGI (not Starlette's BaseHTTPMiddleware) keeps the check to a header scan per request and
leaves streaming responses untouched.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from cjm_docker.codec import encode
from cjm_docker.worker.failures import unauthorized

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[..., Awaitable[Any]], Callable[..., Awaitable[Any]]],
                   Awaitable[None]]

OPEN_PATHS = frozenset({"/health"})


class BearerAuth:
    """Answer 401 with the wire's error body unless ``Authorization: Bearer <token>`` matches.

    Args:
        app: the wrapped ASGI app.
        token: the container's secret.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._token = token.encode("utf-8")
        failure = unauthorized()
        self._denial = encode(failure.body)
        self._status = failure.status

    def authorized(self, headers: list[tuple[bytes, bytes]]) -> bool:
        """Whether the raw ASGI headers carry the right bearer token."""
        for name, value in headers:
            if name == b"authorization":
                scheme, _, credential = value.partition(b" ")
                # The scheme is case-insensitive (RFC 9110); the token compare is constant-time.
                return scheme.lower() == b"bearer" and hmac.compare_digest(
                    credential.strip(), self._token)
        return False

    async def __call__(self, scope: Scope, receive: Callable[..., Awaitable[Any]],
                       send: Callable[..., Awaitable[Any]]) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS or self.authorized(
                scope["headers"]):
            await self.app(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": self._status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(self._denial)).encode()),
                                (b"www-authenticate", b"Bearer")]})
        await send({"type": "http.response.body", "body": self._denial})
