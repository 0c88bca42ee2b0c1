"""The worker's OpenAPI description: request bodies and responses the handlers do not declare.

The hot-path handlers take a plain ``Request`` (no pydantic models), so FastAPI cannot infer
their bodies; these schemas describe them, so that the API can be fuzzed (schemathesis) and read.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from cjm_docker.wire import ErrorCategory, FrameType, WorkerState

JSON = "application/json"
NDJSON = "application/x-ndjson"

ERROR_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["category", "type", "message", "traceback"],
        "properties": {
            "category": {"type": "string", "enum": [c.value for c in ErrorCategory]},
            "type": {"type": "string"},
            "message": {"type": "string"},
            "traceback": {"type": "string"},
        },
    }},
}

CALL_BODY: dict[str, Any] = {
    "type": "object",
    "properties": {"args": {"type": "array", "items": {}},
                   "kwargs": {"type": "object", "additionalProperties": True}},
    "additionalProperties": False,
}

CONFIG_BODY: dict[str, Any] = {"type": ["object", "null"], "additionalProperties": True}

HEALTH: dict[str, Any] = {
    "type": "object",
    "required": ["status", "protocol", "pid", "name", "version", "runtime", "error"],
    "properties": {"status": {"type": "string", "enum": [s.value for s in WorkerState]},
                   "protocol": {"type": "integer"}, "pid": {"type": "integer"},
                   "name": {"type": "string"}, "version": {"type": "string"},
                   "runtime": {"type": "string"}, "error": {"type": ["string", "null"]}},
}

STATS: dict[str, Any] = {
    "type": "object",
    "properties": {"pid": {"type": "integer"}, "cpu_percent": {"type": "number"},
                   "memory_rss_mb": {"type": "number"}, "num_threads": {"type": "integer"},
                   "busy": {"type": "boolean"}},
}

PROGRESS: dict[str, Any] = {
    "type": "object",
    "properties": {"progress": {"type": "number"}, "message": {"type": "string"},
                   "busy": {"type": "boolean"}},
}

CANCEL: dict[str, Any] = {
    "type": "object",
    "properties": {"cancelled": {"type": "boolean"},
                   "status": {"type": "string", "enum": ["cancelled", "idle", "not_supported"]}},
}

STATUS: dict[str, Any] = {"type": "object", "properties": {"status": {"type": "string"}}}

FRAME: dict[str, Any] = {
    "type": "object",
    "required": ["type"],
    "properties": {"type": {"type": "string", "enum": [f.value for f in FrameType]},
                   "data": {}, "error": ERROR_BODY["properties"]["error"]},
}

_ERROR_TEXT = {400: "Malformed request body", 401: "Missing or wrong bearer token",
               409: "The plugin stopped because cancel was requested",
               422: "The result cannot be encoded as JSON", 500: "The plugin raised",
               503: "The plugin is not loaded yet, failed to load, or the worker is stopping"}


def operation(ok: dict[str, Any], *, request: dict[str, Any] | None = None,
              errors: tuple[int, ...] = (401, 500, 503), media_type: str = JSON) -> dict[str, Any]:
    """``openapi_extra`` for one route: its request body and every response it can give."""
    responses: dict[str, Any] = {
        "200": {"description": "Success", "content": {media_type: {"schema": ok}}}}
    for status in errors:
        responses[str(status)] = {"description": _ERROR_TEXT[status],
                                  "content": {JSON: {"schema": ERROR_BODY}}}
    extra: dict[str, Any] = {"responses": responses}
    if request is not None:
        extra["requestBody"] = {"required": False, "content": {JSON: {"schema": request}}}
    return extra


def install(app: FastAPI, open_paths: frozenset[str]) -> None:
    """Add the bearer security scheme to ``app.openapi()`` (every path but ``open_paths``)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer"}}
            schema["security"] = [{"bearer": []}]
            for path in open_paths:
                for op in schema.get("paths", {}).get(path, {}).values():
                    op["security"] = []
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
