"""Values as JSON text and back: one encoder setting for every path.

Compact UTF-8, NaN and Infinity allowed (both ends are Python). The C encoder does the work;
only when it fails does a slow walk run, to name the offending value and where it sits.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from cjm_docker.codec.lowering import Unlowerable, to_jsonable
from cjm_docker.codec.rules import Refusal, Walk, article, refuse, type_name
from cjm_docker.errors import EncodingError

_SEPARATORS = (",", ":")
_LOWERING = json.JSONEncoder(default=to_jsonable, allow_nan=True, ensure_ascii=False,
                             separators=_SEPARATORS)
_LOWERING_ASCII = json.JSONEncoder(default=to_jsonable, allow_nan=True, ensure_ascii=True,
                                   separators=_SEPARATORS)
_PLAIN = json.JSONEncoder(allow_nan=True, ensure_ascii=False, separators=_SEPARATORS)
_PLAIN_ASCII = json.JSONEncoder(allow_nan=True, ensure_ascii=True, separators=_SEPARATORS)


def encode(value: Any, root: str = "result") -> bytes:
    """A result (or a stream chunk, or an answer of the worker) as JSON, with the types JSON
    lacks lowered by ``to_jsonable``.

    Raises:
        EncodingError: naming the first offending value and where it sits under ``root``.
    """
    try:
        text = _LOWERING.encode(value)
    except Exception as exc:  # TypeError, ValueError (circular), RecursionError, a hook's own
        raise describe_failure(value, root, exc) from exc
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: escaped as \udxxx it survives the trip
        return _LOWERING_ASCII.encode(value).encode("ascii")


def encode_plain(value: Any, root: str = "body") -> bytes:
    """A value that must already be in JSON form (a request body: arguments and config are
    never lowered).

    Raises:
        EncodingError: naming the first value that is not, and where it sits under ``root``.
    """
    try:
        text = _PLAIN.encode(value)
    except Exception as exc:
        try:
            Walk().convert(value, root)
        except EncodingError as error:
            raise error from exc
        raise EncodingError(f"{root} cannot be encoded as JSON: {exc}", path=root) from exc
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _PLAIN_ASCII.encode(value).encode("ascii")


def encode_text(value: Any) -> str:
    """A value already in JSON form as ASCII text (a journal column: SQLite's text must be
    valid UTF-8, which a lone surrogate is not; escaped, it survives).

    Raises:
        TypeError: a value that is not in JSON form.
    """
    return _PLAIN_ASCII.encode(value)


def decode(data: bytes | bytearray | str) -> Any:
    """A value from JSON text.

    Raises:
        ValueError: the text is not JSON (or nests deeper than the interpreter can read).
    """
    try:
        return json.loads(data)
    except RecursionError as exc:
        raise ValueError(f"the JSON nests too deeply to read ({exc})") from None


class _Describe(Walk):
    """The walk that names what the lowering encoder could not carry (results only)."""

    def other(self, value: Any, depth: int) -> Any:
        name = type_name(value)
        try:
            lowered = to_jsonable(value)
        except Unlowerable:
            refuse(value)
        except Exception as exc:
            raise Refusal(f"is {article(name)} {name} whose conversion raised {exc!r}",
                          name) from None
        self._enter(value)
        if dataclasses.is_dataclass(value):
            # Name dataclass fields as attributes: the path then reads like the plugin's code.
            for key, item in lowered.items():
                try:
                    self.value(item, depth + 1)
                except Refusal as refusal:
                    refusal.where.insert(0, f".{key}")
                    raise
        else:
            self.value(lowered, depth + 1)
        self._active.discard(id(value))
        return lowered


def describe_failure(value: Any, root: str, exc: BaseException) -> EncodingError:
    """Walk ``value`` again to say which part of it could not be encoded."""
    try:
        _Describe(limit=None).convert(value, root)
    except EncodingError as error:
        return error
    except RecursionError:
        return EncodingError(f"{root} is nested too deeply for JSON", path=root)
    return EncodingError(f"{root} cannot be encoded as JSON: {exc}", path=root)
