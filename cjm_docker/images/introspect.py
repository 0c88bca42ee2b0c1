"""Runs INSIDE a plugin image, once, at install time: prints what the plugin says about itself.

cjm-plugin-system's convention: ``<module>.meta.get_plugin_metadata()`` returns the manifest
dict; when it has no ``config_schema``, one is taken from an instance (best effort: a plugin
that cannot be instantiated without its runtime still installs). ``module`` and ``class`` must
import, because the worker will import them. The parameters of ``execute`` and
``execute_stream`` are recorded as ``signatures`` (the host checks calls against them).

Usage: ``python -m cjm_docker.images.introspect IMPORT_NAME``. The JSON is printed between two
marker lines on stdout; anything the plugin prints goes to stderr. Standard library only.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import sys
import traceback
from typing import Any

BEGIN = "----- cjm-manifest begin -----"
END = "----- cjm-manifest end -----"
SIGNED_METHODS = ("execute", "execute_stream")
SIGNATURE_TEXT_CHARS = 200   # a default's repr can be huge (a whole table); the host bounds it


def describe(import_name: str) -> dict[str, Any]:
    """The plugin's metadata, completed with its config schema and interpreter."""
    meta_module = importlib.import_module(f"{import_name}.meta")
    getter = getattr(meta_module, "get_plugin_metadata", None)
    if getter is None:
        raise RuntimeError(f"{import_name}.meta has no get_plugin_metadata()")
    meta = getter()
    if not isinstance(meta, dict):
        raise RuntimeError(f"get_plugin_metadata() returned {type(meta).__name__}, not a dict")
    meta = dict(meta)
    meta.setdefault("module", f"{import_name}.plugin")
    if not meta.get("class"):
        raise RuntimeError("the metadata names no 'class' (the plugin class in 'module')")
    plugin_class = getattr(importlib.import_module(meta["module"]), meta["class"], None)
    if plugin_class is None:
        raise RuntimeError(f"{meta['module']} has no class {meta['class']!r}")
    if not meta.get("config_schema"):
        meta["config_schema"] = _schema_from_instance(plugin_class)
        if meta["config_schema"] is None:
            del meta["config_schema"]
    meta.setdefault("python_path", sys.executable)
    signatures = {m: _signature(plugin_class, m) for m in SIGNED_METHODS}
    meta["signatures"] = {m: sig for m, sig in signatures.items() if sig is not None}
    return meta


def _signature(plugin_class: type, method: str) -> dict[str, Any] | None:
    """``method``'s parameters without ``self``: name, kind, and default and annotation as
    strings (the host checks calls against them before starting a container)."""
    function = getattr(plugin_class, method, None)
    if function is None:
        return None
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return None
    params = list(signature.parameters.values())
    if params and not isinstance(inspect.getattr_static(plugin_class, method, None),
                                 (staticmethod, classmethod)):
        params = params[1:]   # self
    return {"parameters": [_parameter(p) for p in params]}


def _parameter(param: inspect.Parameter) -> dict[str, Any]:
    out: dict[str, Any] = {"name": param.name, "kind": param.kind.name}
    if param.default is not inspect.Parameter.empty:
        out["default"] = _short(repr(param.default))
    if param.annotation is not inspect.Parameter.empty:
        annotation = param.annotation
        out["annotation"] = _short(annotation if isinstance(annotation, str)
                                   else inspect.formatannotation(annotation))
    return out


def _short(text: str) -> str:
    return text if len(text) <= SIGNATURE_TEXT_CHARS else text[: SIGNATURE_TEXT_CHARS - 3] + "..."


def _schema_from_instance(plugin_class: type) -> dict[str, Any] | None:
    instance = None
    try:
        instance = plugin_class()
        schema = instance.get_config_schema()
        return schema if isinstance(schema, dict) else None
    except Exception as exc:  # best effort, as cjm-plugin-system
        print(f"cjm-docker: no config schema from an instance: {type(exc).__name__}: {exc}",
              file=sys.stderr)
        return None
    finally:
        if instance is not None:
            with contextlib.suppress(Exception):
                instance.cleanup()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m cjm_docker.images.introspect IMPORT_NAME", file=sys.stderr)
        return 2
    out = sys.stdout
    try:
        with contextlib.redirect_stdout(sys.stderr):
            meta = describe(argv[0])
        text = json.dumps(meta, default=str, sort_keys=True)
    except BaseException:
        traceback.print_exc()
        return 1
    out.write(f"{BEGIN}\n{text}\n{END}\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
