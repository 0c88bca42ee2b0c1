"""Results only: the types JSON lacks, lowered to ones it has (the ``default=`` hook).

A plugin's result type is its own business, so the worker maps what it can, as 0.0.x's encoder
did for dataclasses. Arguments are never lowered: the caller chooses what to send, and a silent
change would hand the plugin something else than was passed.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
from decimal import Decimal
from enum import Enum
from pathlib import PurePath
from typing import Any
from uuid import UUID


class Unlowerable(TypeError):
    """Raised by ``to_jsonable`` for a value it has no mapping for."""


def to_jsonable(obj: Any) -> Any:
    """Map one value JSON lacks to something it has; the ``default=`` hook for the encoder.

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
    raise Unlowerable(f"{type(obj).__qualname__} is not JSON-encodable")


def _is_numpy(obj: Any) -> bool:
    # numpy is not imported: most plugin images lack it, and importing it costs ~100 ms.
    module = type(obj).__module__ or ""
    return (module == "numpy" or module.startswith("numpy.")) and hasattr(obj, "tolist")
