"""Plugin calls: which methods the worker calls on request, and the record of one in progress."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

T = TypeVar("T")


class CallKind(str, Enum):
    """The plugin methods the worker calls on request."""

    INITIALIZE = "initialize"
    EXECUTE = "execute"
    STREAM = "execute_stream"
    CONFIG_SCHEMA = "get_config_schema"
    CURRENT_CONFIG = "get_current_config"
    CLEANUP = "cleanup"

    @property
    def is_job(self) -> bool:
        """Jobs start with fresh progress and cancel state."""
        return self in (CallKind.EXECUTE, CallKind.STREAM)


@dataclass
class Call:
    """One plugin call in progress."""

    kind: CallKind
    # Written by the event loop (/cancel, a client gone), read on the plugin thread when the
    # call fails: a plugin that raises anything after a cancel request was cancelled.
    cancel_requested: bool = False


#: What runs on the plugin thread for one call: ``work(plugin, call) -> result``.
Work = Callable[[Any, Call], T]
