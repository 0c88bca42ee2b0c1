"""A plugin's ``execute`` signature, as introspection recorded it, and the check of a call
against it before any container starts.

Introspection stores each method's parameters in the manifest (``signatures``: name, kind,
default and annotation as strings; see ``cjm_docker.images.introspect``). The check rebuilds an
``inspect.Signature`` from them and binds the call, so positional/keyword rules are Python's own;
simple annotations (``str``, ``int``, ``float``, ``bool``, optionally ``| None``) are checked too.
A manifest written before signatures were recorded has none: every call passes, as before.
A plugin that takes ``**kwargs`` accepts any keyword, so nothing it could use is refused.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cjm_docker import naming
from cjm_docker.errors import PluginArgumentError

_KINDS = {kind.name: kind for kind in (
    inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD,
    inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.KEYWORD_ONLY,
    inspect.Parameter.VAR_KEYWORD)}
_OPTIONAL = re.compile(r"^(?:Optional\[(?P<a>\w+)\]|(?P<b>\w+) \| None|None \| (?P<c>\w+))$")
_SIMPLE = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,)}


class Parameter(BaseModel):
    """One parameter of a plugin method (strings only: it came out of a container)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=200)
    kind: str = Field(pattern="^(" + "|".join(_KINDS) + ")$")
    default: str | None = Field(default=None, max_length=1000)   # repr; None: required
    annotation: str | None = Field(default=None, max_length=1000)


class Signature(BaseModel):
    """A method's parameters, ``self`` left out."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    parameters: list[Parameter] = Field(default_factory=list, max_length=500)

    def takes_any_keyword(self) -> bool:
        return any(p.kind == "VAR_KEYWORD" for p in self.parameters)

    def keywords(self) -> list[str]:
        """The names a caller can pass as keywords."""
        return [p.name for p in self.parameters
                if p.kind in ("POSITIONAL_OR_KEYWORD", "KEYWORD_ONLY")]

    def describe(self) -> str:
        """``text: str = '', sleep: float = 0.0`` (as a person reads it)."""
        parts = []
        for p in self.parameters:
            star = {"VAR_POSITIONAL": "*", "VAR_KEYWORD": "**"}.get(p.kind, "")
            text = star + p.name + (f": {p.annotation}" if p.annotation else "")
            parts.append(text + (f" = {p.default}" if p.default is not None else ""))
        return ", ".join(parts) or "(no parameters)"

    def python(self) -> inspect.Signature:
        """An ``inspect.Signature`` with the same binding rules (defaults are placeholders)."""
        return inspect.Signature([
            inspect.Parameter(p.name, _KINDS[p.kind],
                              default=inspect.Parameter.empty if p.default is None else p.default)
            for p in self.parameters])


def signature_of(manifest: Mapping[str, Any], method: str = "execute") -> Signature | None:
    """The recorded signature of ``method`` (``execute_stream`` falls back to ``execute``);
    None for a manifest that recorded none (or recorded something unusable)."""
    recorded = manifest.get("signatures")
    if not isinstance(recorded, Mapping):
        return None
    doc = recorded.get(method) or recorded.get("execute")
    if not isinstance(doc, Mapping):
        return None
    try:
        return Signature.model_validate(doc)
    except ValidationError:
        return None


def check_call(manifest: Mapping[str, Any], args: list[Any] | tuple[Any, ...],
               kwargs: Mapping[str, Any], *, stream: bool = False) -> None:
    """Raise ``PluginArgumentError`` unless ``execute(*args, **kwargs)`` (or
    ``execute_stream``) fits the plugin's recorded signature.

    Raises:
        PluginArgumentError: unknown, missing or surplus arguments, or a value whose simple
            annotation it does not match; the message lists the parameters.
    """
    method = "execute_stream" if stream else "execute"
    signature = signature_of(manifest, method)
    if signature is None:
        return
    plugin = str(manifest.get("name") or "?")
    where = f"{plugin}.{method}({signature.describe()})"
    unknown = [k for k in kwargs if k not in signature.keywords()]
    if unknown and not signature.takes_any_keyword():
        known = signature.keywords()
        hints = "".join(naming.did_you_mean(k, known) for k in unknown)
        raise PluginArgumentError(
            f"Plugin '{plugin}' takes no argument named {', '.join(repr(k) for k in unknown)}."
            f"{hints} It takes: {where}.", plugin=plugin,
            hint=f"See `cjm-ctl show {plugin}`.")
    try:
        bound = signature.python().bind(*args, **kwargs)
    except TypeError as exc:
        given = f" (positional values given: {', '.join(repr(a)[:40] for a in args)})" if args \
            else ""
        raise PluginArgumentError(f"Plugin '{plugin}' cannot be called so: {exc}{given}. It "
                                  f"takes: {where}.", plugin=plugin,
                                  hint=f"See `cjm-ctl show {plugin}`.") from None
    by_name = {p.name: p for p in signature.parameters}
    for name, value in bound.arguments.items():
        expected = _simple_types(by_name[name].annotation)
        if expected is not None and not _matches(value, expected):
            raise PluginArgumentError(
                f"Plugin '{plugin}': argument '{name}' must be {by_name[name].annotation}, not "
                f"{type(value).__name__} {value!r:.60}. It takes: {where}.", plugin=plugin)


def keep_text(manifest: Mapping[str, Any], kwargs: dict[str, Any], typed: Mapping[str, str],
              *, stream: bool = False) -> dict[str, Any]:
    """``kwargs`` with the typed-in text kept for parameters annotated ``str``: on a command
    line ``text=123`` means the text "123", though 123 parses as a JSON number.

    Args:
        typed: parameter -> the text typed for it (``key=value`` tokens).
    """
    signature = signature_of(manifest, "execute_stream" if stream else "execute")
    if signature is None:
        return kwargs
    text_params = {p.name for p in signature.parameters
                   if str in (_simple_types(p.annotation) or ())}
    return {k: typed[k] if k in text_params and k in typed and not isinstance(v, str) else v
            for k, v in kwargs.items()}


def _simple_types(annotation: str | None) -> tuple[type, ...] | None:
    """The Python types a simple annotation accepts (None: not a simple one, not checked)."""
    if annotation is None:
        return None
    text = annotation.strip().strip("'\"")
    if text in _SIMPLE:
        return _SIMPLE[text]
    match = _OPTIONAL.match(text)
    inner = match and (match.group("a") or match.group("b") or match.group("c"))
    if inner in _SIMPLE:
        return (*_SIMPLE[inner], type(None))
    return None


def _matches(value: Any, expected: tuple[type, ...]) -> bool:
    if isinstance(value, bool):   # a bool is an int to Python; not to a person
        return bool in expected
    return isinstance(value, expected)
