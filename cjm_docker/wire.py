"""The worker protocol: what crosses between the host proxy and the worker in a container.

Both sides import this module, so it stays free of third-party imports (it is baked into every
plugin image). Bump ``PROTOCOL_VERSION`` on any incompatible change; the host refuses a worker
whose version differs.

Endpoints (every one but ``GET /health`` needs ``Authorization: Bearer <token>``):

    GET  /health          {"status": WorkerState, "protocol": int, "pid", "hostname", "name", "version",
                           "runtime": cjm_docker version, "error": str | None}
    GET  /stats           {"pid", "cpu_percent", "memory_rss_mb", "num_threads", "busy"}
    GET  /progress        {"progress": float, "message": str, "busy": bool}
    POST /cancel          {"cancelled": bool, "status": "cancelled" | "idle" | "not_supported"}
    POST /initialize      body: the config object           -> {"status": "ok"}
    GET  /config_schema   the plugin's JSON Schema ({} when it has none)
    GET  /config          the plugin's current config ({} when it has none)
    POST /execute         body: {"args": [...], "kwargs": {...}} -> the encoded result
    POST /execute_stream  same body -> NDJSON frames, see ``Frame``
    POST /cleanup         {"status": "cleaned"}

Errors on any endpoint: a non-2xx status with the body ``{"error": ErrorBody}``. Request bodies
are strict: unknown keys and ``null`` args/kwargs are a 400; an empty body means no arguments.
/execute_stream answers request problems (400, 401, 503) with a status before streaming;
once streaming, every failure is an error frame under status 200.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, TypedDict

PROTOCOL_VERSION = 1

AUTH_HEADER = "authorization"
AUTH_SCHEME = "Bearer"

#: Status codes with a meaning of their own; other failures use 500.
STATUS_CANCELLED = 409
STATUS_UNENCODABLE = 422
STATUS_UNAUTHORIZED = 401
STATUS_BAD_REQUEST = 400
STATUS_NOT_READY = 503   # starting, failed or stopping: retry elsewhere or later

# File names inside a container's runtime folder (bind-mounted at the same path on both sides).
SOCKET_NAME = "worker.sock"
TOKEN_NAME = "token"
LEASE_NAME = "lease"
LOG_NAME = "worker.log"

# The worker's exit status when its host lease expired (the host says "lease expired").
EXIT_LEASE_EXPIRED = 4


class WorkerState(str, Enum):
    """Lifecycle of a worker, as /health reports it."""

    STARTING = "starting"  # process up, plugin not yet imported/instantiated
    READY = "ready"        # idle, accepting calls
    BUSY = "busy"          # an execute or stream is running
    FAILED = "failed"      # the plugin could not be loaded; "error" says why
    STOPPING = "stopping"  # shutdown began: cleanup runs, new calls get 503


class ErrorCategory(str, Enum):
    """What kind of failure an ErrorBody describes."""

    PLUGIN = "plugin"          # the plugin's own code raised
    CANCELLED = "cancelled"    # the plugin stopped because cancel was requested
    ENCODING = "encoding"      # the result could not be encoded as JSON
    BAD_REQUEST = "bad_request"  # the request itself was malformed
    UNAUTHORIZED = "unauthorized"
    INTERNAL = "internal"      # the worker itself failed


class ErrorBody(TypedDict):
    """A failure as it crosses the wire."""

    category: str     # an ErrorCategory value
    type: str         # qualified exception type inside the container, e.g. "ValueError"
    message: str      # str(exc)
    traceback: str    # formatted traceback ("" when none applies)


class FrameType(str, Enum):
    """Stream frames: one JSON object per line, ``{"type": ..., ...}``."""

    DATA = "data"     # {"type": "data", "data": <encoded chunk>}
    ERROR = "error"   # {"type": "error", "error": ErrorBody}; always the last frame
    END = "end"       # {"type": "end"}; the stream finished normally


def error_body(category: ErrorCategory, exc_type: str, message: str, traceback: str = "") -> dict[str, Any]:
    """Build the ``{"error": ErrorBody}`` payload."""
    return {"error": {"category": category.value, "type": exc_type, "message": message,
                      "traceback": traceback}}
