"""Result encoding: what a plugin returns, as JSON bytes the host decodes with Python's json.

The C encoder does the work (fast for large results and for streams of small chunks); the
``to_jsonable`` hook maps the types JSON lacks. Only when encoding fails does a slow walk run,
to name the offending value and where it sits, e.g. ``result['items'][2] is a Foo``.

NaN and Infinity are written as Python's json writes them; the host reads them back.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import json
from decimal import Decimal
from enum import Enum
from pathlib import PurePath
from typing import Any
from uuid import UUID

from cjm_docker.errors import CjmDockerError

_SCALARS = (str, int, float, bool, type(None))


class EncodingError(CjmDockerError):
    """A value cannot be carried as JSON.

    Attributes:
        path: where the value sits, e.g. ``result['items'][2]``.
        type_name: the offending value's type.
    """

    def __init__(self, message: str, *, path: str = "", type_name: str = ""):
        self.path = path
        self.type_name = type_name
        super().__init__(message)


class _Unencodable(TypeError):
    """Raised by the hook for a value it has no mapping for (caught by ``encode``)."""


def to_jsonable(obj: Any) -> Any:
    """Map one value JSON lacks to something it has; the ``default=`` hook for ``json.dumps``.

    The returned value may itself hold further custom types: the encoder calls the hook again
    for each of them, which is why dataclasses are not flattened with ``asdict``.

    Raises:
        TypeError: for a type with no mapping.
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, (datetime.date, datetime.time)):  # datetime is a date
        return obj.isoformat()
    if isinstance(obj, datetime.timedelta):
        return obj.total_seconds()
    if isinstance(obj, PurePath):
        return str(obj)
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, (set, frozenset)):
        try:
            return sorted(obj)  # stable output for sets of comparable items
        except TypeError:
            return list(obj)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return base64.b64encode(obj).decode("ascii")
    if isinstance(obj, (UUID, Decimal)):
        return str(obj)
    if _is_numpy(obj):
        # Scalars (np.generic, 0-d arrays) become Python numbers; arrays nested lists.
        if getattr(obj, "shape", None) == () and hasattr(obj, "item"):
            return obj.item()
        return obj.tolist()
    model_dump = getattr(obj, "model_dump", None)
    if callable(model_dump) and hasattr(type(obj), "model_fields"):  # pydantic v2
        return model_dump(mode="json")
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    raise _Unencodable(f"{type(obj).__qualname__} is not JSON-encodable")


def _is_numpy(obj: Any) -> bool:
    # numpy is not imported: most plugin images lack it, and importing it costs ~100 ms.
    module = type(obj).__module__ or ""
    return (module == "numpy" or module.startswith("numpy.")) and hasattr(obj, "tolist")


_UTF8 = json.JSONEncoder(default=to_jsonable, allow_nan=True, ensure_ascii=False,
                         separators=(",", ":"))
# Strings with lone surrogates cannot become UTF-8; escaped as \udxxx they survive the trip.
_ASCII = json.JSONEncoder(default=to_jsonable, allow_nan=True, ensure_ascii=True,
                          separators=(",", ":"))


def encode(value: Any, root: str = "result") -> bytes:
    """Encode a value as compact JSON (UTF-8).

    Args:
        value: anything ``to_jsonable`` can map, nested in dicts, lists and tuples.
        root: the name used for the value in error messages.

    Raises:
        EncodingError: naming the first offending value and its path.
    """
    try:
        text = _UTF8.encode(value)
    except Exception as exc:  # TypeError, ValueError (circular), RecursionError, a hook's own
        raise describe_failure(value, root, exc) from exc
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _ASCII.encode(value).encode("ascii")


def describe_failure(value: Any, root: str, exc: BaseException) -> EncodingError:
    """Walk ``value`` again to say which part of it could not be encoded."""
    try:
        found = _locate(value, root, set())
    except RecursionError:
        found = (root, "is nested too deeply for JSON", "")
    if found is None:
        return EncodingError(f"{root} cannot be encoded as JSON: {exc}", path=root)
    path, problem, type_name = found
    return EncodingError(f"{path} {problem}", path=path, type_name=type_name)


def _locate(obj: Any, path: str, active: set[int]) -> tuple[str, str, str] | None:
    """Return ``(path, problem, type name)`` of the first part of ``obj`` JSON cannot carry."""
    if isinstance(obj, _SCALARS):
        return None
    if id(obj) in active:
        return path, "refers back to a containing value (a circular reference)", ""
    active.add(id(obj))
    try:
        if isinstance(obj, dict):
            for key, item in obj.items():
                if not isinstance(key, _SCALARS):
                    name = _type_name(key)
                    return (path, f"has a key {key!r} of type {name}; JSON object keys must be "
                            "strings or numbers", name)
                found = _locate(item, f"{path}[{key!r}]", active)
                if found:
                    return found
            return None
        if isinstance(obj, (list, tuple)):
            for index, item in enumerate(obj):
                found = _locate(item, f"{path}[{index}]", active)
                if found:
                    return found
            return None
        name = _type_name(obj)
        try:
            converted = to_jsonable(obj)
        except _Unencodable:
            return path, f"is {_article(name)} {name}, which JSON cannot carry", name
        except Exception as exc:
            return path, f"is {_article(name)} {name} whose conversion raised {exc!r}", name
        if dataclasses.is_dataclass(obj):
            # Name dataclass fields as attributes: the path then reads like the plugin's code.
            for key, item in converted.items():
                found = _locate(item, f"{path}.{key}", active)
                if found:
                    return found
            return None
        return _locate(converted, path, active)
    finally:
        active.discard(id(obj))


def _type_name(obj: Any) -> str:
    return type(obj).__name__


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"
