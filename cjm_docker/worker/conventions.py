"""The attribute conventions through which plugins report progress and hear about cancel.

They are conventions, not an API: cjm-plugin-system 0.0.x plugins set ``_progress`` and
``_status_message`` (via ``report_progress``); newer ones keep a ``_cancel_requested`` flag;
``cjm_docker.interface`` keeps a ``threading.Event`` in ``__dict__["_cjm_cancel_event"]``;
duck-typed plugins may have none of these. Every access here tolerates their absence, read-only
properties and ``__slots__``.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

UNKNOWN = "unknown"


def reset_job_state(plugin: Any) -> None:
    """Fresh progress and cancel state before each job, so nothing leaks from the last one."""
    for name, value in (("_progress", 0.0), ("_status_message", "")):
        # A read-only property or __slots__: the plugin reports progress its own way.
        with contextlib.suppress(Exception):
            setattr(plugin, name, value)
    event = getattr(plugin, "__dict__", {}).get("_cjm_cancel_event")
    if event is not None:
        event.clear()
    if hasattr(plugin, "_cancel_requested"):
        flag = plugin._cancel_requested
        with contextlib.suppress(Exception):
            if isinstance(flag, threading.Event):
                flag.clear()
            else:
                plugin._cancel_requested = False


def read_progress(plugin: Any) -> tuple[float, str]:
    """``(progress, message)`` as the plugin last reported them; ``(0.0, "")`` by default."""
    try:
        progress = float(getattr(plugin, "_progress", 0.0) or 0.0)
    except Exception:  # not a number, or a property that raises
        progress = 0.0
    try:
        message = getattr(plugin, "_status_message", "") or ""
        message = message if isinstance(message, str) else str(message)
    except Exception:
        message = ""
    return progress, message


def read_identity(plugin: Any) -> tuple[str, str]:
    """``(name, version)``; "unknown" for either one that is missing or raises."""
    values = []
    for attribute in ("name", "version"):
        try:
            values.append(str(getattr(plugin, attribute)))
        except Exception:  # a property that raises before initialize()
            values.append(UNKNOWN)
    return values[0], values[1]
