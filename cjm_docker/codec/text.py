"""Values as JSON text and back: one encoder setting for every path.

Compact UTF-8, NaN and Infinity allowed (both ends are Python). The C encoder does the work;
only when it fails does a slow walk run, to name the offending value and where it sits.
"""

from __future__ import annotations

import dataclasses
import json
from json.encoder import encode_basestring, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

from cjm_docker.codec.lowering import Unlowerable, to_jsonable
from cjm_docker.codec.rules import Refusal, Walk, article, refuse, type_name
from cjm_docker.errors import EncodingError

#: A request body's string longer than this many characters is written in pieces of this size.
PIECE = 1 << 20

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


def encode_pieces(value: Any, root: str = "body") -> bytes | list[bytes]:
    """``encode_plain``, except that a body holding a string over ``PIECE`` characters in its
    first two levels (a call's arguments) comes as a list of pieces, sent one after another:
    the string is never copied whole (a 200 MB argument cost 400 MB as one text)."""
    if not _holds_long_text(value, 2):
        return encode_plain(value, root)
    pieces: list[bytes] = []
    _write(value, pieces, 2, root)
    return pieces


def _holds_long_text(value: Any, levels: int) -> bool:
    kind = type(value)
    if kind is str:
        return len(value) > PIECE
    if levels:
        if kind is dict:
            value = value.values()
        elif kind is not list and kind is not tuple:
            return False
        for item in value:
            if _holds_long_text(item, levels - 1):
                return True
    return False


def _write(value: Any, out: list[bytes], levels: int, root: str) -> None:
    kind = type(value)
    if kind is str and len(value) > PIECE:
        out.append(b'"')
        for start in range(0, len(value), PIECE):
            part = value[start:start + PIECE]
            try:
                out.append(encode_basestring(part).encode("utf-8")[1:-1])
            except UnicodeEncodeError:
                out.append(encode_basestring_ascii(part).encode("ascii")[1:-1])
        out.append(b'"')
    elif levels and kind is dict and all(type(key) is str for key in value):
        out.append(b"{")
        for index, (key, item) in enumerate(value.items()):
            out.append((b"," if index else b"") + encode_plain(key) + b":")
            _write(item, out, levels - 1, f"{root}[{key!r}]")
        out.append(b"}")
    elif levels and (kind is list or kind is tuple):
        out.append(b"[")
        for index, item in enumerate(value):
            if index:
                out.append(b",")
            _write(item, out, levels - 1, f"{root}[{index}]")
        out.append(b"]")
    else:
        out.append(encode_plain(value, root))


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
