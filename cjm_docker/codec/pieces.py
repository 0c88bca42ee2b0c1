"""A request body with a long string, written and sent piece by piece, never whole.

``json.dumps`` of a 200 MB string holds its working copy and its text at once, and the text's
bytes besides. Here a long string in the first two levels of a body (a call's arguments) is
escaped slice by slice while it is sent, so the host holds one slice at a time. The body's
length is then unknown in advance: the client sends it with ``Transfer-Encoding: chunked``.
Every other part is encoded when the body is made, so a value outside the rules is refused
before anything is sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from json.encoder import encode_basestring, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

from cjm_docker.codec.text import encode_plain

#: A body's string longer than this many characters is escaped and sent in slices of this size.
PIECE = 1 << 20


class Pieces:
    """A body as the pieces to send one after another; iterable again (a resend starts over)."""

    __slots__ = ("_parts",)

    def __init__(self, parts: list[bytes | str]) -> None:
        self._parts = parts  # bytes: encoded already; str: a long string, escaped when sent

    def __iter__(self) -> Iterator[bytes]:
        for part in self._parts:
            if type(part) is bytes:
                yield part
            else:
                yield b'"'
                yield from _escaped(part)  # type: ignore[arg-type]
                yield b'"'


def _escaped(text: str) -> Iterator[bytes]:
    for start in range(0, len(text), PIECE):
        piece = text[start:start + PIECE]
        try:
            yield encode_basestring(piece)[1:-1].encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: escaped as \udxxx it survives the trip
            yield encode_basestring_ascii(piece)[1:-1].encode("ascii")


def encode_pieces(value: Any, root: str = "body") -> bytes | Pieces:
    """``encode_plain``, except that a body holding a string over ``PIECE`` characters in its
    first two levels comes as ``Pieces``.

    Raises:
        EncodingError: as ``encode_plain``, before anything is sent.
    """
    if not _holds_long_text(value, 2):
        return encode_plain(value, root)
    parts: list[bytes | str] = []
    _write(value, parts, 2, root)
    return Pieces(parts)


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


def _write(value: Any, out: list[bytes | str], levels: int, root: str) -> None:
    kind = type(value)
    if kind is str and len(value) > PIECE:
        out.append(value)
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
