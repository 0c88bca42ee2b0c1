"""Validation errors of plugins.yaml, as one clear line each: file, plugin, key, what is wrong.

pydantic reports a failed union once per member it tried ("not a bool", "not an int", ...) and
names members in the error path; these are folded away so that the real problem is what shows.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from cjm_docker.spec.location import Location

ModelAt = Callable[[list[str], bool], "type[BaseModel] | None"]


def plugin_label(raw: Any, index: int) -> str:
    """How an entry is named in messages: its name, else its position (``#2``)."""
    if isinstance(raw, dict) and isinstance(raw.get("name"), str) and raw["name"]:
        return raw["name"]
    return f"#{index + 1}"


_UNION_NOISE = ("bool_type", "int_type", "string_type", "float_type", "model_type", "dict_type",
                "bool_parsing", "int_parsing", "float_parsing", "is_instance_of")


def _error_key(error: ErrorDetails, raw_plugins: Any) -> tuple[str | None, list[str]]:
    loc = list(error["loc"])
    plugin = None
    if len(loc) >= 2 and loc[0] == "plugins" and isinstance(loc[1], int):
        plugin = plugin_label(raw_plugins[loc[1]] if isinstance(raw_plugins, list)
                              and loc[1] < len(raw_plugins) else None, loc[1])
        loc = loc[2:]
    # pydantic names the union member it tried ("str", "GpuSpec", ...) in the path: drop it.
    keys = [str(p) if not isinstance(p, int) else f"[{p}]" for p in loc
            if not (isinstance(p, str) and (p[:1].isupper() or p in ("str", "int", "float", "bool")
                                            or p.startswith(("function-", "list[", "dict["))))]
    return plugin, keys


def _key_text(keys: list[str]) -> str | None:
    return ".".join(keys).replace(".[", "[") or None


def _message(error: ErrorDetails, raw_plugins: Any, path: Path, model_at: ModelAt) -> str:
    plugin, keys = _error_key(error, raw_plugins)
    key = _key_text(keys)
    where = Location(str(path), plugin, key)
    kind = error["type"]
    if kind == "missing":
        field = keys[-1] if keys else "?"
        parent = Location(str(path), plugin, _key_text(keys[:-1]))
        return f"{parent.describe()}: required key '{field}' is missing."
    if kind == "extra_forbidden":
        bad = keys[-1] if keys else "?"
        model = model_at(keys, plugin is not None)
        allowed = sorted(model.model_fields) if model else []
        close = difflib.get_close_matches(bad, allowed, n=1)
        suggestion = f" (did you mean '{close[0]}'?)" if close else ""
        listing = f" Allowed keys: {', '.join(allowed)}." if allowed else ""
        return f"{where.describe()}: unknown key{suggestion}.{listing}"
    text = str(error["msg"]).removeprefix("Value error, ")
    shown = error.get("input")
    if isinstance(shown, dict | list):
        got = f" (got a {'mapping' if isinstance(shown, dict) else 'list'})"
    else:
        got = "" if shown is None or repr(shown) in text else f" (got {shown!r})"
    return f"{where.describe()}: {text}{got}."


def describe_errors(exc: ValidationError, raw_plugins: Any, path: Path,
                    model_at: ModelAt) -> list[str]:
    """One message per real problem: a union's "not a bool / not an int" attempts are dropped
    when a more specific error about the same key exists."""
    errors = exc.errors()
    located = [(e, _error_key(e, raw_plugins)) for e in errors]
    kept = []
    for error, (plugin, keys) in located:
        if error["type"] in _UNION_NOISE and any(
                other is not error and p == plugin and k[:len(keys)] == keys
                and other["type"] not in _UNION_NOISE for other, (p, k) in located):
            continue
        kept.append(error)
    seen: list[str] = []
    for error in kept or errors:
        text = _message(error, raw_plugins, path, model_at)
        if text not in seen:
            seen.append(text)
    return seen
