"""Does a sample call's result satisfy what plugins.yaml expects of it (pure)."""

from __future__ import annotations

from typing import Any

from cjm_docker.spec.plugins_file import SampleCall

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,), "array": (list,), "string": (str,), "number": (int, float),
    "integer": (int,), "boolean": (bool,), "null": (type(None),),
}


def _json_type_ok(value: Any, name: str) -> bool:
    if isinstance(value, bool) and name in ("number", "integer"):
        return False
    return isinstance(value, _JSON_TYPES[name])


def _contains(value: Any, part: Any) -> bool:
    if isinstance(value, str):
        return isinstance(part, str) and part in value
    if isinstance(value, dict) and isinstance(part, dict):
        return all(k in value and (value[k] == v or (isinstance(v, dict | list)
                                                     and _contains(value[k], v)))
                   for k, v in part.items())
    if isinstance(value, list):
        return part in value or (isinstance(part, list) and all(p in value for p in part))
    return False


def mismatches(sample: SampleCall, result: Any) -> list[str]:
    """Every way ``result`` misses the sample's expectations (empty: it meets them all)."""
    problems: list[str] = []
    if "expect" in sample.model_fields_set and result != sample.expect:
        problems.append(f"expected {sample.expect!r}, got {result!r}")
    if sample.expect_type and not _json_type_ok(result, sample.expect_type):
        problems.append(f"expected a JSON {sample.expect_type}, got {type(result).__name__}")
    if sample.expect_keys:
        if not isinstance(result, dict):
            problems.append(f"expected a mapping with keys {sample.expect_keys}, "
                            f"got {type(result).__name__}")
        else:
            missing = [k for k in sample.expect_keys if k not in result]
            if missing:
                problems.append(f"result lacks keys {missing} (has {sorted(result)})")
    if "contains" in sample.model_fields_set and not _contains(result, sample.contains):
        problems.append(f"result {_short(result)} does not contain {sample.contains!r}")
    return problems


def _short(value: Any, width: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"
