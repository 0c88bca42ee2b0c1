"""Config dataclasses and JSON Schema, as ``cjm_plugin_system.utils.validation`` offers them.

Same names and output shapes; two defects fixed: unknown keys are an error in
``dict_to_config`` (they were dropped silently), and ``pattern`` is searched anywhere in the
string, as JSON Schema (and so the host's validation) defines it, not only at its start.
Standard library only: this module is baked into plugin images.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from typing import Any, Union, get_args, get_origin, get_type_hints

from cjm_docker.errors import PluginConfigError

SCHEMA_TITLE = "title"
SCHEMA_DESC = "description"
SCHEMA_MIN = "minimum"
SCHEMA_MAX = "maximum"
SCHEMA_ENUM = "enum"
SCHEMA_MIN_LEN = "minLength"
SCHEMA_MAX_LEN = "maxLength"
SCHEMA_PATTERN = "pattern"
SCHEMA_FORMAT = "format"
_METADATA_KEYS = (SCHEMA_TITLE, SCHEMA_DESC, SCHEMA_MIN, SCHEMA_MAX, SCHEMA_ENUM, SCHEMA_MIN_LEN,
                  SCHEMA_MAX_LEN, SCHEMA_PATTERN, SCHEMA_FORMAT)
_SIMPLE = {str: "string", int: "integer", float: "number", bool: "boolean"}


def validate_field_value(value: Any, metadata: dict[str, Any], field_name: str = "") -> tuple[bool, str | None]:
    """Check one value against its field metadata; ``(True, None)`` or ``(False, message)``."""
    f = field_name
    if SCHEMA_ENUM in metadata and value not in metadata[SCHEMA_ENUM]:
        return False, f"{f}: {value!r} is not one of {metadata[SCHEMA_ENUM]}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if SCHEMA_MIN in metadata and value < metadata[SCHEMA_MIN]:
            return False, f"{f}: {value} is less than minimum {metadata[SCHEMA_MIN]}"
        if SCHEMA_MAX in metadata and value > metadata[SCHEMA_MAX]:
            return False, f"{f}: {value} is greater than maximum {metadata[SCHEMA_MAX]}"
    if isinstance(value, str):
        if SCHEMA_MIN_LEN in metadata and len(value) < metadata[SCHEMA_MIN_LEN]:
            return False, f"{f}: string length {len(value)} is less than minimum {metadata[SCHEMA_MIN_LEN]}"
        if SCHEMA_MAX_LEN in metadata and len(value) > metadata[SCHEMA_MAX_LEN]:
            return False, f"{f}: string length {len(value)} is greater than maximum {metadata[SCHEMA_MAX_LEN]}"
        if SCHEMA_PATTERN in metadata and not re.search(metadata[SCHEMA_PATTERN], value):
            return False, f"{f}: {value!r} does not match pattern {metadata[SCHEMA_PATTERN]!r}"
    return True, None


def validate_config(config: Any) -> tuple[bool, str | None]:
    """Validate every field of a config dataclass instance, in declaration order."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"Expected dataclass instance, got {type(config).__name__}")
    for f in dataclasses.fields(config):
        ok, message = validate_field_value(getattr(config, f.name), dict(f.metadata), f.name)
        if not ok:
            return ok, message
    return True, None


def config_to_dict(config: Any) -> dict[str, Any]:
    """A config dataclass instance (or a dict) as a dict."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return dataclasses.asdict(config)
    if isinstance(config, dict):
        return config
    raise TypeError(f"Expected dataclass instance or dict, got {type(config).__name__}")


def dict_to_config(cls: type, data: dict[str, Any] | None = None, validate: bool = False) -> Any:
    """Build a config dataclass from a dict; unknown keys are an error."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls} is not a dataclass")
    data = dict(data or {})
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise PluginConfigError(f"Unknown config keys for {cls.__name__}: {', '.join(unknown)} "
                                f"(known: {', '.join(sorted(known))}).", errors=unknown)
    instance = cls(**data)
    if validate:
        ok, message = validate_config(instance)
        if not ok:
            raise ValueError(message)
    return instance


def extract_defaults(cls: type) -> dict[str, Any]:
    """``{field: default}`` for every field of ``cls`` that has one."""
    out = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


def _type_schema(tp: Any) -> dict[str, Any]:
    if tp in _SIMPLE:
        return {"type": _SIMPLE[tp]}
    origin, args = get_origin(tp), get_args(tp)
    if origin in (list, typing.List):  # noqa: UP006 - typing.List without args has this origin
        return {"type": "array", "items": _type_schema(args[0]) if args else {"type": "string"}}
    if origin is Union or (hasattr(types, "UnionType") and origin is types.UnionType):
        members = [a for a in args if a is not type(None)]
        inner = _type_schema(members[0]) if members else {"type": "string"}
        if type(None) in args and len(members) == 1 and isinstance(inner.get("type"), str):
            inner = {**inner, "type": [inner["type"], "null"]}
        return inner
    return {"type": "string"}


def dataclass_to_jsonschema(cls: type) -> dict[str, Any]:
    """The JSON Schema of a config dataclass, in the shape 0.0.x produced."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls} is not a dataclass")
    try:
        hints = get_type_hints(cls)
    except Exception:
        hints = {}
    properties: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        prop = _type_schema(hints.get(f.name, str))
        prop.update({k: f.metadata[k] for k in _METADATA_KEYS if k in f.metadata})
        if f.default is not dataclasses.MISSING:
            prop["default"] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            prop["default"] = f.default_factory()
        properties[f.name] = prop
    return {
        "name": getattr(cls, "__schema_name__", cls.__name__),
        "title": getattr(cls, "__schema_title__", cls.__name__),
        "description": getattr(cls, "__schema_description__", None) or cls.__doc__ or "",
        "type": "object",
        "properties": properties,
    }
