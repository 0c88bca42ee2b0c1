"""A plugin's config schema, checked in bounded time: regexes run on a linear-time engine.

The schema comes out of the plugin's container, so it is untrusted. jsonschema runs
``pattern`` and ``patternProperties`` with Python's backtracking ``re``: a pattern such as
``^(a+)+$`` against ``"a" * 30 + "!"`` runs for minutes inside C code that holds the
interpreter lock, stalling every thread of the host (the lease keeper among them, so other
plugins' containers expire). Here those keywords, and ``additionalProperties`` (which matches
the same patterns), run on RE2, whose time is linear in the input. A pattern RE2 cannot run
(a backreference, a lookaround) is a schema error, never a fallback to ``re``.

Also bounded: the schema's size (``MAX_SCHEMA_BYTES``); references (only ones inside the
schema itself resolve, jsonschema fetches nothing, a loop is an error); ``uniqueItems``
(hashed, not jsonschema's pairwise comparison, quadratic for unsortable items: 4,000 small
objects took 58 s); and the whole validation, which stops after ``MAX_VALIDATION_S`` (a
schema of nested ``anyOf`` references does exponential work in a few hundred bytes).
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import jsonschema
import re2
from jsonschema.exceptions import ValidationError

#: Larger plugin schemas are refused outright (a real config schema is a few KiB).
MAX_SCHEMA_BYTES = 256 * 1024
#: A validation still running after this long is stopped: the schema is refused.
MAX_VALIDATION_S = 1.0
_RE2_MEMORY = 8 << 20   # per compiled pattern: RE2 refuses a pattern whose program is larger

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a refused pattern is reported to the caller, not on stderr
_OPTIONS.max_mem = _RE2_MEMORY


class UnsafeSchema(Exception):
    """The schema cannot be checked in bounded time (the reason is the message)."""


@functools.lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> Any:
    """The pattern compiled by RE2.

    Raises:
        UnsafeSchema: RE2 cannot run it (not a string, a backreference, a lookaround, too big).
    """
    if not isinstance(pattern, str):
        raise UnsafeSchema(f"the pattern {pattern!r} is not a string")
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        detail = exc.args[0].decode("utf-8", "replace") if exc.args and \
            isinstance(exc.args[0], bytes) else str(exc)
        raise UnsafeSchema(f"the pattern {pattern[:80]!r} cannot run in linear time "
                           f"({detail}); backreferences and lookarounds are not supported") \
            from None


def _search(pattern: str, text: str) -> bool:
    return compile_pattern(pattern).search(text) is not None


def _pattern(validator: Any, pattern: str, instance: Any, schema: dict) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator: Any, patterns: dict, instance: Any,
                        schema: dict) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if _search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(validator: Any, allowed: Any, instance: Any,
                           schema: dict) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    known = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    extras = sorted((key for key in instance if key not in known
                     and not any(_search(p, key) for p in patterns)), key=str)
    if validator.is_type(allowed, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], allowed, path=extra)
    elif not allowed and extras:
        names = ", ".join(repr(each) for each in extras)
        if patterns:
            yield ValidationError(f"{names} do(es) not match any of the regexes: "
                                  f"{', '.join(repr(p) for p in sorted(patterns))}")
        else:
            yield ValidationError(f"Additional properties are not allowed ({names} unexpected)")


def _canonical(value: Any) -> Any:
    """A hashable form in which JSON-equal values are equal (1 == 1.0, True != 1)."""
    if isinstance(value, bool) or value is None:
        return ("b", value)
    if isinstance(value, (int, float)):
        return ("n", int(value) if isinstance(value, float) and value.is_integer() else value)
    if isinstance(value, str):
        return ("s", value)
    if isinstance(value, dict):
        return ("o", frozenset((k, _canonical(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return ("a", tuple(_canonical(v) for v in value))
    return ("?", repr(value))


def _unique_items(validator: Any, unique: bool, instance: Any,
                  schema: dict) -> Iterator[ValidationError]:
    if unique and validator.is_type(instance, "array"):
        seen = set()
        for item in instance:
            key = _canonical(item)
            if key in seen:
                yield ValidationError(f"{instance!r:.200} has non-unique elements")
                return
            seen.add(key)


_LINEAR = {"pattern": _pattern, "patternProperties": _pattern_properties,
           "additionalProperties": _additional_properties, "uniqueItems": _unique_items}
_clock = threading.local()  # the deadline of the validation running on this thread


def _timed(keyword: Callable[..., Any]) -> Callable[..., Iterator[ValidationError]]:
    """``keyword`` that first checks the deadline: every step of a validation passes here."""
    def checked(validator: Any, value: Any, instance: Any,
                schema: dict) -> Iterator[ValidationError]:
        if time.monotonic() > getattr(_clock, "deadline", float("inf")):
            raise UnsafeSchema(f"validating against it took over {MAX_VALIDATION_S:g} s")
        errors = keyword(validator, value, instance, schema)
        if errors is not None:
            yield from errors
    return checked


def bounded_errors(validator: Any, instance: Any) -> list[ValidationError]:
    """Every error of ``instance``, or ``UnsafeSchema`` once ``MAX_VALIDATION_S`` is spent."""
    _clock.deadline = time.monotonic() + MAX_VALIDATION_S
    try:
        return list(validator.iter_errors(instance))
    finally:
        _clock.deadline = float("inf")


def _walk(node: Any) -> Iterator[tuple[str, Any]]:
    """Every (keyword, value) in the schema, iteratively (a deep schema is no RecursionError)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                yield key, value
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)


def precheck(schema: dict[str, Any]) -> None:
    """Refuse what cannot be checked in bounded time, before any instance is looked at.

    Raises:
        UnsafeSchema: too large, a pattern RE2 cannot run, or ``unevaluatedProperties`` next
            to ``patternProperties`` (jsonschema matches those with ``re`` internally).
    """
    try:
        size = len(json.dumps(schema))
    except (TypeError, ValueError, RecursionError) as exc:
        raise UnsafeSchema(f"it is not plain JSON ({type(exc).__name__})") from None
    if size > MAX_SCHEMA_BYTES:
        raise UnsafeSchema(f"it is {size} bytes, over the limit of {MAX_SCHEMA_BYTES}")
    keywords = set()
    for key, value in _walk(schema):
        keywords.add(key)
        if key == "pattern" and not isinstance(value, dict):
            compile_pattern(value)
        elif key == "patternProperties" and isinstance(value, dict):
            for pattern in value:
                compile_pattern(pattern)
    if "unevaluatedProperties" in keywords and "patternProperties" in keywords:
        raise UnsafeSchema("'unevaluatedProperties' with 'patternProperties' is not supported")


def bounded_validator(schema: dict[str, Any]) -> Any:
    """A jsonschema validator for ``schema`` whose regexes run on RE2 (call ``precheck``
    first)."""
    base = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    keywords = {**base.VALIDATORS, **_LINEAR}
    bounded = jsonschema.validators.extend(
        base, {name: _timed(keyword) for name, keyword in keywords.items()})
    return bounded(schema)
