"""A job's arguments and result as journal text (SQLite columns), and back.

Arguments take the journal form of the rules: paths tagged ``{"$path": ...}`` and one-key ``$``
dicts escaped, so ``{"$path": "x"}`` passed as a plain dict comes back as that dict, never as a
``Path``. Arguments the rules refuse make a job that runs now but cannot be replayed after a
restart, and say so. A result is what the worker answered (JSON already), stored as it is.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePath
from typing import Any

from cjm_docker.codec.rules import Walk, all_plain, refuse
from cjm_docker.codec.text import decode, encode_text
from cjm_docker.errors import EncodingError, JournalRowError

PATH_TAG = "$path"


class _Journal(Walk):
    def __init__(self) -> None:
        super().__init__(escape=True)

    def other(self, value: Any, depth: int) -> Any:
        if isinstance(value, PurePath):
            return {PATH_TAG: str(value)}
        refuse(value)


def _untag(obj: dict[str, Any]) -> Any:
    # json calls this innermost dict first, so an escaped dict's value is already decoded.
    if len(obj) == 1:
        (key, item), = obj.items()
        if key == PATH_TAG and isinstance(item, str):
            return Path(item)
        if key.startswith("$$"):
            return {key[1:]: item}
    return obj


def _plain(args: tuple, kwargs: dict[str, Any]) -> bool:
    """Scalars only, and no key a tag could be made of: the text needs no walk."""
    return all_plain(args, kwargs) and (len(kwargs) != 1 or not next(iter(kwargs)).startswith("$"))


def encode_call(args: tuple, kwargs: dict[str, Any]) -> tuple[str, str, bool]:
    """Journal text for a job's arguments, and whether they can be replayed after a restart.

    Anything the rules refuse makes the job run normally now but fail with a clear reason if
    it must resume.
    """
    try:
        if _plain(args, kwargs):
            return encode_text(list(args)), encode_text(kwargs), True
        walk = _Journal()  # each argument its own root, as on the wire: the same depth allowed
        tagged = [walk.convert(value, f"args[{index}]") for index, value in enumerate(args)]
        named = {key: walk.convert(value, f"kwargs[{key!r}]") for key, value in kwargs.items()}
        if len(named) == 1 and next(iter(named)).startswith("$"):
            named = {"$" + key: value for key, value in named.items()}
        return encode_text(tagged), encode_text(named), True
    except (EncodingError, TypeError, ValueError) as exc:
        note = encode_text({"$unjournaled": str(exc)})
        return note, "{}", False


def decode_call(args: str, kwargs: str) -> tuple[tuple, dict[str, Any]]:
    """The arguments ``encode_call`` wrote.

    Raises:
        JournalRowError: the text is not what ``encode_call`` writes.
    """
    try:
        call_args = _read(args)
        call_kwargs = _read(kwargs)
    except (ValueError, TypeError, AttributeError) as exc:
        raise JournalRowError(f"the journaled arguments are not readable JSON ({exc})") from None
    if not isinstance(call_args, list) or not isinstance(call_kwargs, dict):
        raise JournalRowError("the journaled arguments are not a list and a mapping")
    return tuple(call_args), call_kwargs


def _read(text: str) -> Any:
    if "$" not in text:  # no tag and no escape: the C decoder alone
        return decode(text)
    try:
        return json.loads(text, object_hook=_untag)
    except RecursionError as exc:
        raise ValueError(f"the JSON nests too deeply to read ({exc})") from None


def encode_value(value: Any) -> str | None:
    """A result as journal text (anything JSON cannot hold is stored as its ``repr``)."""
    if value is None:
        return None
    try:
        return encode_text(value)
    except (TypeError, ValueError, RecursionError):
        return encode_text({"$repr": repr(value)[:10_000]})


def decode_value(text: str | None) -> Any:
    """A stored result; an unreadable one comes back as ``{"$unreadable": reason}``."""
    if text is None:
        return None
    try:
        return decode(text)
    except ValueError as exc:
        return {"$unreadable": f"the journaled result is not readable JSON ({exc})"}
