"""The worker's ASGI app: the endpoints of ``cjm_docker.wire`` over a ``PluginHost``.

What uvicorn serves is ``WorkerApp``: the token check, then the fast path for the two hot
endpoints, then FastAPI for everything else. Both run outside FastAPI's own middleware stack
(error pages, body limits, telemetry hooks), which costs about as much as the rest of a trivial
request. Handlers take a plain ``Request`` and return pre-encoded bytes: no pydantic models and no
re-encoding on the hot paths (/execute, /execute_stream, /progress, /cancel). Failures travel as
``CallFailed`` and are answered by one exception handler with the wire's error body.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from cjm_docker._version import __version__
from cjm_docker.codec import decode, encode
from cjm_docker.wire import ErrorCategory
from cjm_docker.worker import openapi
from cjm_docker.worker.auth import OPEN_PATHS, BearerAuth
from cjm_docker.worker.calls import CallKind
from cjm_docker.worker.failures import CallFailed, bad_request, internal
from cjm_docker.worker.fastpath import FastPath
from cjm_docker.worker.host import PluginHost
from cjm_docker.worker.stats import ProcessStats
from cjm_docker.worker.streaming import LinePipe

log = logging.getLogger(__name__)

_CALL_KEYS = frozenset({"args", "kwargs"})


class WorkerApp:
    """The ASGI app uvicorn serves: ``BearerAuth(FastPath(api))``.

    Args:
        api: the FastAPI app (every endpoint, and the OpenAPI document).
        host: the plugin host, for the fast path.
        token: the bearer token every endpoint but /health requires.
    """

    def __init__(self, api: FastAPI, host: PluginHost, token: str) -> None:
        self.api = api
        self._served = BearerAuth(FastPath(api, host, parse_call_body), token)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self._served(scope, receive, send)

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI document (the fast path's endpoints included)."""
        return self.api.openapi()


def create_app(host: PluginHost, token: str, *, stats: ProcessStats | None = None) -> WorkerApp:
    """Build the worker app around ``host``.

    Args:
        host: the plugin host; loading is started by the caller (after binding).
        token: the bearer token every endpoint but /health requires.
        stats: the process sampler for /stats (one is created when omitted).
    """
    return WorkerApp(create_api(host, stats or ProcessStats()), host, token)


def create_api(host: PluginHost, stats: ProcessStats) -> FastAPI:
    """The FastAPI app: every endpoint, answering in the wire's shapes (no token check here)."""
    app = FastAPI(title="cjm-docker worker", version=__version__, docs_url=None,
                  redoc_url=None)
    app.add_exception_handler(CallFailed, _answer_failure)
    app.add_exception_handler(StarletteHTTPException, _answer_http_error)
    app.add_exception_handler(Exception, _answer_internal)  # last resort: never a bare 500

    @app.get("/health", openapi_extra=openapi.operation(openapi.HEALTH, errors=()))
    async def health(request: Request) -> Response:
        return _json(encode(host.health()))

    @app.get("/stats", openapi_extra=openapi.operation(openapi.STATS, errors=(401,)))
    async def process_stats(request: Request) -> Response:
        return _json(encode(stats.snapshot(host.busy)))

    @app.get("/progress", openapi_extra=openapi.operation(openapi.PROGRESS, errors=(401,)))
    async def progress(request: Request) -> Response:
        return _json(encode(host.progress()))

    @app.post("/cancel", openapi_extra=openapi.operation(openapi.CANCEL, errors=(401, 500)))
    async def cancel(request: Request) -> Response:
        return _json(encode(await host.cancel()))

    @app.post("/initialize", openapi_extra=openapi.operation(
        openapi.STATUS, request=openapi.CONFIG_BODY, errors=(400, 401, 500, 503)))
    async def initialize(request: Request) -> Response:
        return _json(await host.initialize(parse_config_body(await request.body())))

    @app.get("/config_schema", openapi_extra=openapi.operation({"type": "object"}))
    async def config_schema(request: Request) -> Response:
        return _json(await host.read_config(CallKind.CONFIG_SCHEMA))

    @app.get("/config", openapi_extra=openapi.operation({"type": "object"}))
    async def current_config(request: Request) -> Response:
        return _json(await host.read_config(CallKind.CURRENT_CONFIG))

    @app.post("/execute", openapi_extra=openapi.operation(
        {}, request=openapi.CALL_BODY, errors=(400, 401, 409, 422, 500, 503)))
    async def execute(request: Request) -> Response:
        args, kwargs = parse_call_body(await request.body())
        return _json(await host.execute(args, kwargs))

    @app.post("/execute_stream", openapi_extra=openapi.operation(
        openapi.FRAME, request=openapi.CALL_BODY, errors=(400, 401, 503),
        media_type=openapi.NDJSON))
    async def execute_stream(request: Request) -> Response:
        args, kwargs = parse_call_body(await request.body())
        pipe = LinePipe(asyncio.get_running_loop())
        host.start_stream(args, kwargs, pipe)
        return PipeResponse(pipe, on_abandon=lambda: host.request_cancel(pipe.call))

    @app.post("/cleanup", openapi_extra=openapi.operation(openapi.STATUS))
    async def cleanup(request: Request) -> Response:
        return _json(await host.cleanup())

    openapi.install(app, OPEN_PATHS)
    return app


class PipeResponse(StreamingResponse):
    """NDJSON from a ``LinePipe``; when the client leaves early, the producer is told to stop
    and the plugin is asked to cancel."""

    def __init__(self, pipe: LinePipe, on_abandon: Callable[[], None]) -> None:
        super().__init__(pipe.batches(), media_type=openapi.NDJSON)
        self._pipe = pipe
        self._on_abandon = on_abandon

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            if not self._pipe.drained:
                self._pipe.abandon()
                self._on_abandon()
            await self.body_iterator.aclose()  # type: ignore[attr-defined]


def parse_call_body(raw: bytes) -> tuple[list[Any], dict[str, Any]]:
    """``{"args": [...], "kwargs": {...}}`` (both optional; an empty body means neither).

    Raises:
        CallFailed: 400 when the body is not that shape.
    """
    if not raw.strip():
        return [], {}
    body = _parse_json(raw)
    if not isinstance(body, dict):  # JSON null included: only an empty body means "no args"
        raise bad_request('the body must be a JSON object {"args": [...], "kwargs": {...}}')
    unknown = set(body) - _CALL_KEYS
    if unknown:
        raise bad_request(f"unknown keys in the body: {sorted(unknown)}; expected args, kwargs")
    args = body.get("args", [])
    kwargs = body.get("kwargs", {})
    if not isinstance(args, list):
        raise bad_request(f"args must be a JSON array, not {type(args).__name__}")
    if not isinstance(kwargs, dict):
        raise bad_request(f"kwargs must be a JSON object, not {type(kwargs).__name__}")
    return args, kwargs


def parse_config_body(raw: bytes) -> dict[str, Any] | None:
    """The config object for /initialize; an empty body or ``null`` means None.

    Raises:
        CallFailed: 400 when the body is not a JSON object.
    """
    config = _parse_json(raw)
    if config is not None and not isinstance(config, dict):
        raise bad_request(f"the config must be a JSON object, not {type(config).__name__}")
    return config


def _parse_json(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return decode(raw)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise bad_request(f"the body is not valid JSON: {exc}") from None


def _json(data: bytes, status: int = 200) -> Response:
    return Response(data, status_code=status, media_type=openapi.JSON)


async def _answer_failure(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CallFailed)
    return _json(encode(exc.body), exc.status)


async def _answer_http_error(request: Request, exc: Exception) -> Response:
    # Unknown paths and wrong methods, answered in the wire's shape like everything else.
    assert isinstance(exc, StarletteHTTPException)
    try:
        name = HTTPStatus(exc.status_code).phrase.replace(" ", "")  # "NotFound"
    except ValueError:
        name = "HTTPError"
    failure = CallFailed(exc.status_code, ErrorCategory.BAD_REQUEST, name, str(exc.detail))
    response = _json(encode(failure.body), failure.status)
    response.headers.update(exc.headers or {})  # e.g. Allow on 405
    return response


async def _answer_internal(request: Request, exc: Exception) -> Response:
    log.error("internal error answering %s %s", request.method, request.url.path, exc_info=exc)
    return _json(encode(internal(exc).body), 500)
