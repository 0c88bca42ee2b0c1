"""Failures as the wire carries them: an HTTP status plus ``{"error": ErrorBody}``.

Every failure the worker answers with is built here, so the status and category for each kind
of failure are decided in one place.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from cjm_docker import wire
from cjm_docker.errors import CjmDockerError
from cjm_docker.wire import ErrorCategory

#: Not in wire.py (yet): calls made before the plugin is loaded, or after shutdown began.
STATUS_NOT_READY = wire.STATUS_NOT_READY
STATUS_INTERNAL = 500

log = logging.getLogger(__name__)

_CANCELLED_NAME = "PluginCancelledError"  # ours and cjm-plugin-system's share the name


class CallFailed(CjmDockerError):
    """A request that ends in an error response.

    Attributes:
        status: the HTTP status to answer with.
        body: ``{"error": ErrorBody}``.
    """

    def __init__(self, status: int, category: ErrorCategory, type_name: str, message: str,
                 tb: str = ""):
        self.status = status
        self.body = wire.error_body(category, type_name, message, tb)
        super().__init__(message)

    @property
    def category(self) -> str:
        """The ErrorCategory value."""
        return self.body["error"]["category"]

    def frame(self) -> dict[str, Any]:
        """This failure as the last frame of a stream."""
        return {"type": wire.FrameType.ERROR.value, "error": self.body["error"]}


def qualified_name(cls: type) -> str:
    """``ValueError`` for builtins, ``package.module.Name`` for everything else."""
    module = cls.__module__
    if module in (None, "builtins"):
        return cls.__qualname__
    return f"{module}.{cls.__qualname__}"


def format_traceback(exc: BaseException) -> str:
    """The full traceback of ``exc``, as Python prints it."""
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def is_cancellation(exc: BaseException) -> bool:
    """True for a PluginCancelledError of any origin (matched by name: plugins written for
    cjm-plugin-system raise that project's class, which we cannot import)."""
    return any(klass.__name__ == _CANCELLED_NAME for klass in type(exc).__mro__)


def plugin_failure(exc: BaseException, *, cancel_requested: bool) -> CallFailed:
    """The plugin's own code raised.

    Args:
        exc: what it raised.
        cancel_requested: whether cancel was requested during the call; a plugin that stops by
            raising anything once asked to cancel has been cancelled, not failed.
    """
    cancelled = cancel_requested or is_cancellation(exc)
    status = wire.STATUS_CANCELLED if cancelled else STATUS_INTERNAL
    category = ErrorCategory.CANCELLED if cancelled else ErrorCategory.PLUGIN
    return CallFailed(status, category, qualified_name(type(exc)), str(exc),
                      format_traceback(exc))


def encoding_failure(exc: BaseException) -> CallFailed:
    """The result (or a stream chunk) cannot be encoded as JSON."""
    return CallFailed(wire.STATUS_UNENCODABLE, ErrorCategory.ENCODING,
                      qualified_name(type(exc)), str(exc), "")


def bad_request(message: str) -> CallFailed:
    """The request itself is malformed."""
    return CallFailed(wire.STATUS_BAD_REQUEST, ErrorCategory.BAD_REQUEST, "BadRequest", message)


def unauthorized() -> CallFailed:
    """No bearer token, or the wrong one."""
    return CallFailed(wire.STATUS_UNAUTHORIZED, ErrorCategory.UNAUTHORIZED, "Unauthorized",
                      "missing or wrong bearer token")


def not_ready(state: str, detail: str | None = None) -> CallFailed:
    """A plugin call arrived while the worker cannot take one."""
    messages = {
        "starting": "the plugin is still loading; retry when /health says ready",
        "failed": f"the plugin failed to load: {detail}",
        "stopping": "the worker is shutting down",
    }
    message = messages.get(state, f"the worker is {state}")
    return CallFailed(STATUS_NOT_READY, ErrorCategory.INTERNAL, "WorkerNotReady", message)


def internal(exc: BaseException) -> CallFailed:
    """The worker itself failed (a bug on our side)."""
    return CallFailed(STATUS_INTERNAL, ErrorCategory.INTERNAL, qualified_name(type(exc)),
                      str(exc), format_traceback(exc))


def log_failure(what: str, failure: CallFailed) -> None:
    """Write a failed call to the worker's log: the traceback for a plugin error (it may be
    all that is left after a crash), one line for a cancellation."""
    error = failure.body["error"]
    if failure.category == ErrorCategory.PLUGIN.value:
        log.warning("%s raised %s: %s\n%s", what, error["type"], error["message"],
                    error["traceback"])
    else:
        log.info("%s %s: %s: %s", what, failure.category, error["type"], error["message"])
