"""A job's arguments and result as JSON text, for the journal.

Paths survive the round trip, tagged ``{"$path": ...}``. The tag cannot be confused with the
caller's own data: a one-key dict whose key starts with ``$`` gets one more ``$`` on the way
in and loses it on the way out, so ``{"$path": "x"}`` passed as a plain dict comes back as that
dict, never as a ``Path``. Arguments JSON cannot hold (a FileBackedDTO, an object, bytes keys,
nesting deeper than ``MAX_NESTING``) make a job that runs now but cannot be replayed after a
restart, and say so. A row that cannot be read back raises ``JournalRowError``.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePath
from typing import Any

from cjm_docker.errors import QueueError

PATH_TAG = "$path"
#: As deep as a journaled argument may nest (lists and dicts in each other); deeper ones are
#: not journaled (the walk and the C codec stay far from the interpreter's recursion limit).
MAX_NESTING = 200
_SCALARS = (str, int, float, bool, type(None))


class JournalRowError(QueueError):
    """A journaled job's arguments cannot be read back (corrupt or foreign JSON)."""


class _NotJournalable(Exception):
    pass


def _tagged(value: Any, depth: int) -> Any:
    """``value`` with paths tagged and ``$`` keys escaped, ready for ``json.dumps``."""
    if type(value) in _SCALARS:
        return value
    if depth >= MAX_NESTING:
        raise _NotJournalable(f"nested more than {MAX_NESTING} levels deep")
    if isinstance(value, PurePath):
        return {PATH_TAG: str(value)}
    if isinstance(value, (list, tuple)):
        return [_tagged(item, depth + 1) for item in value]
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, _SCALARS):
                raise _NotJournalable(f"a dict key of type {type(key).__qualname__}")
        if len(value) == 1:
            (key, item), = value.items()
            if isinstance(key, str) and key.startswith("$"):
                return {"$" + key: _tagged(item, depth + 1)}
        return {key: _tagged(item, depth + 1) for key, item in value.items()}
    if isinstance(value, (str, int, float)):  # subclasses: a str enum, an int flag
        return value
    raise _NotJournalable(type(value).__qualname__)


def _untag(obj: dict[str, Any]) -> Any:
    # json calls this innermost dict first, so an escaped dict's value is already decoded.
    if len(obj) == 1:
        (key, item), = obj.items()
        if key == PATH_TAG and isinstance(item, str):
            return Path(item)
        if key.startswith("$$"):
            return {key[1:]: item}
    return obj


def encode_call(args: tuple, kwargs: dict[str, Any]) -> tuple[str, str, bool]:
    """JSON for a job's arguments, and whether they can be replayed after a restart.

    Anything JSON cannot hold makes the job run normally now but fail with a clear reason if
    it must resume.
    """
    try:
        return (json.dumps(_tagged(list(args), 0)), json.dumps(_tagged(kwargs, 0)), True)
    except (_NotJournalable, TypeError, ValueError) as exc:
        note = json.dumps({"$unjournaled": str(exc)})
        return note, "{}", False


def decode_call(args: str, kwargs: str) -> tuple[tuple, dict[str, Any]]:
    """The arguments ``encode_call`` wrote.

    Raises:
        JournalRowError: the text is not what ``encode_call`` writes.
    """
    try:
        call_args = json.loads(args, object_hook=_untag)
        call_kwargs = json.loads(kwargs, object_hook=_untag)
    except (ValueError, TypeError, RecursionError) as exc:
        raise JournalRowError(f"the journaled arguments are not readable JSON ({exc})") from None
    if not isinstance(call_args, list) or not isinstance(call_kwargs, dict):
        raise JournalRowError("the journaled arguments are not a list and a mapping")
    return tuple(call_args), call_kwargs


def encode_value(value: Any) -> str | None:
    """A result as JSON (anything JSON cannot hold is stored as its ``repr``)."""
    if value is None:
        return None
    try:
        return json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        return json.dumps({"$repr": repr(value)[:10_000]})


def decode_value(text: str | None) -> Any:
    """A stored result; an unreadable one comes back as ``{"$unreadable": reason}``."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        return {"$unreadable": f"the journaled result is not readable JSON ({exc})"}
