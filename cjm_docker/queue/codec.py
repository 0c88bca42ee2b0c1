"""A job's arguments and result as JSON text, for the journal.

Paths survive the round trip (tagged ``{"$path": ...}``); arguments JSON cannot hold make a job
that runs now but cannot be replayed after a restart, and say so.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePath
from typing import Any


class _NotJournalable(Exception):
    pass


def _tag(value: Any) -> Any:
    if isinstance(value, PurePath):
        return {"$path": str(value)}
    raise _NotJournalable(type(value).__qualname__)


def _untag(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and "$path" in obj:
        return Path(obj["$path"])
    return obj


def encode_call(args: tuple, kwargs: dict[str, Any]) -> tuple[str, str, bool]:
    """JSON for a job's arguments, and whether they can be replayed after a restart.

    Paths survive the round trip; anything JSON cannot hold (a FileBackedDTO, an arbitrary
    object) makes the job run normally now but fail with a clear reason if it must resume.
    """
    try:
        return (json.dumps(list(args), default=_tag), json.dumps(kwargs, default=_tag), True)
    except (_NotJournalable, TypeError, ValueError) as exc:
        note = json.dumps({"$unjournaled": str(exc)})
        return note, "{}", False


def decode_call(args: str, kwargs: str) -> tuple[tuple, dict[str, Any]]:
    return tuple(json.loads(args, object_hook=_untag)), json.loads(kwargs, object_hook=_untag)


def encode_value(value: Any) -> str | None:
    """A result as JSON (anything JSON cannot hold is stored as its ``repr``)."""
    if value is None:
        return None
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return json.dumps({"$repr": repr(value)})


def decode_value(text: str | None) -> Any:
    return None if text is None else json.loads(text)
