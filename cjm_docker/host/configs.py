"""Plugin configs: schema defaults merged with what the caller gave, validated against the schema."""

from __future__ import annotations

from typing import Any

import jsonschema
import referencing.exceptions

from cjm_docker import naming
from cjm_docker.errors import PluginConfigError
from cjm_docker.host.bounded_schema import (
    UnsafeSchema,
    bounded_errors,
    bounded_validator,
    precheck,
)


def schema_defaults(schema: dict[str, Any] | None) -> dict[str, Any]:
    """``{field: default}`` for every property that declares one."""
    properties = (schema or {}).get("properties") or {}
    return {k: v["default"] for k, v in properties.items() if isinstance(v, dict) and "default" in v}


def effective_config(plugin: str, schema: dict[str, Any] | None,
                     config: dict[str, Any] | None) -> dict[str, Any]:
    """Defaults merged with ``config`` (a partial config is fine), then validated.

    Raises:
        PluginConfigError: unknown keys or values the schema rejects, every problem listed.
    """
    merged = {**schema_defaults(schema), **(config or {})}
    if not schema:
        return merged
    problems: list[str] = []
    properties = schema.get("properties")
    if isinstance(properties, dict) and properties and schema.get("additionalProperties") is not True:
        for key in sorted(set(merged) - set(properties)):
            close = naming.near_misses(str(key), properties)
            guess = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
            problems.append(f"unknown key {key!r} ({guess}known: {', '.join(sorted(properties))})")
    checked = {k: v for k, v in merged.items() if not properties or k in properties}
    try:
        # The schema comes from the plugin: its regexes run on RE2 (linear time), see
        # bounded_schema; Python's re could hold the interpreter lock for minutes.
        precheck(schema)
        validator = bounded_validator(_without_annotations(schema))
        problems += [f"{'.'.join(map(str, e.path)) or '(config)'}: {e.message}"
                     for e in sorted(bounded_errors(validator, checked),
                                     key=lambda e: list(e.path))]
    except jsonschema.SchemaError as exc:
        raise _bad_schema(plugin, exc.message) from exc
    except UnsafeSchema as exc:
        raise _bad_schema(plugin, str(exc)) from exc
    except (RecursionError, referencing.exceptions.Unresolvable) as exc:
        raise _bad_schema(plugin, f"its references cannot be resolved ({type(exc).__name__}); "
                          "only references inside the schema are followed") from exc
    if problems:
        raise PluginConfigError(f"Config for plugin '{plugin}' is invalid: {'; '.join(problems)}.",
                                plugin=plugin, errors=problems,
                                hint=f"See its keys and defaults with `cjm-ctl show {plugin}` (or "
                                     "get_plugin_config_schema()).")
    return merged


def _bad_schema(plugin: str, reason: str) -> PluginConfigError:
    return PluginConfigError(f"Plugin '{plugin}' publishes a config schema the host cannot "
                             f"use: {reason}.", plugin=plugin,
                             hint="Fix the plugin's get_config_schema() (or its metadata's "
                                  "config_schema) and reinstall it.")


def _without_annotations(schema: dict[str, Any]) -> dict[str, Any]:
    # 0.0.x schemas carry a top-level "name" and dataclass metadata; harmless for validation,
    # but a non-standard "format" value must not reject the whole schema.
    return {k: v for k, v in schema.items() if k != "name"}
