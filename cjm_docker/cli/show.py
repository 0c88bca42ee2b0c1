"""`cjm-ctl show NAME`: everything a user needs to call a plugin, in one place.

Its manifest (names, version, description), the image and its status (and why, and what to
run), the parameters of ``execute`` and ``execute_stream``, and the config schema with its
defaults. Errors elsewhere (a config that fails its schema, an unknown argument) point here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from cjm_docker.cli.installed import current_specs, expected_tags
from cjm_docker.cli.options import PluginsOption
from cjm_docker.cli.output import console, print_json, say, table
from cjm_docker.cli.root import app, complete_plugin_names, plugin_name
from cjm_docker.config import get_config
from cjm_docker.host.signature import signature_of
from cjm_docker.images.inventory import ImageState, Inventory
from cjm_docker.manifest import Manifest

_STATUS_STYLE = {"present": "green", "missing": "red", "stale": "yellow"}


def config_options(schema: Any) -> list[dict[str, Any]]:
    """The schema's top-level properties as rows: key, type, default, description, limits.

    The schema came out of a container: anything that is not the expected shape is skipped.
    """
    props = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(props, dict):
        return []
    required = schema.get("required") if isinstance(schema.get("required"), list) else []
    rows = []
    for key, prop in props.items():
        prop = prop if isinstance(prop, dict) else {}
        limits = [f"{word} {prop[word]}" for word in ("minimum", "maximum", "minLength",
                                                      "maxLength", "pattern") if word in prop]
        if isinstance(prop.get("enum"), list):
            limits.append("one of " + ", ".join(json.dumps(v) for v in prop["enum"]))
        rows.append({"key": str(key), "type": _type_name(prop.get("type")),
                     "default": prop.get("default"), "has_default": "default" in prop,
                     "required": key in required, "description": str(prop.get("description", "")),
                     "limits": "; ".join(limits)})
    return rows


def _type_name(value: Any) -> str:
    if isinstance(value, list):
        return " | ".join(str(v) for v in value)
    return str(value) if value else "any"


def describe_plugin(manifest: Manifest, path: Path, state: ImageState) -> dict[str, Any]:
    """The `show --json` document."""
    doc = manifest.model_dump(mode="json", by_alias=True)
    options = config_options(manifest.config_schema)
    return {
        "name": manifest.name, "spec_name": manifest.spec_name, "version": manifest.version,
        "description": manifest.description, "manifest_path": str(path),
        "image": {"tag": manifest.image, "id": manifest.image_id, "status": state.status.value,
                  "reason": state.reason, "action": state.action, "size_bytes": state.size_bytes},
        "execute": _parameters(doc, "execute"),
        "execute_stream": _parameters(doc, "execute_stream"),
        "config": {"schema": manifest.config_schema,
                   "defaults": {o["key"]: o["default"] for o in options if o["has_default"]}},
        "manifest": doc,
    }


def _parameters(doc: dict[str, Any], method: str) -> list[dict[str, Any]] | None:
    signature = signature_of(doc, method)
    return None if signature is None else [p.model_dump() for p in signature.parameters]


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Plugin (plugins.yaml or manifest name).",
                                        callback=plugin_name,
                                        autocompletion=complete_plugin_names)],
    plugins: PluginsOption = None,
    raw: Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")] = False,
) -> None:
    """A plugin's manifest, image status, execute parameters and config schema with defaults."""
    from cjm_docker.images.sizes import human_size

    inventory = Inventory(get_config())
    found = inventory.find(name)
    if found is None:
        raise inventory.unknown(name)
    path, manifest = found
    specs = [s for s in current_specs(plugins) if s.name == manifest.spec_name]
    state = inventory.state(manifest,
                            expected_tags(plugins, specs, inventory.engine).get(manifest.spec_name),
                            specs[0].runtime if specs else None)
    doc = describe_plugin(manifest, path, state)
    if raw:
        print_json(doc)
        return
    names = manifest.name + (f" (plugins.yaml: {manifest.spec_name})" if manifest.spec_name else "")
    say(f"{names} {manifest.version}", style="bold")
    for label, value in (("description", manifest.description), ("category", manifest.category),
                         ("author", manifest.author), ("manifest", str(path))):
        if value:
            say(f"  {label + ':':13}{value}")
    size = f", {human_size(state.size_bytes)}" if state.size_bytes is not None else ""
    style = _STATUS_STYLE[state.status.value]
    console.print(f"  image:       {manifest.image} [{style}]{state.status.value}[/]{size}",
                  highlight=False, soft_wrap=True, markup=True)
    if state.action:
        say(f"               {state.reason}. Run: {state.action}", style="yellow")
    for method in ("execute", "execute_stream"):
        signature = signature_of(doc["manifest"], method)
        text = signature.describe() if signature is not None else \
            "(not recorded: reinstall with a newer cjm-ctl to see them)"
        say(f"  {method}({text})")
    options = config_options(manifest.config_schema)
    if not options:
        say("  config:      none (the plugin declares no config schema)")
        return
    say("  config (pass with --config '{\"key\": value}'; defaults apply to keys left out):")
    view = table("key", "type", "default", "description", "limits")
    for o in options:
        default = json.dumps(o["default"]) if o["has_default"] else \
            ("(required)" if o["required"] else "-")
        view.add_row(*(escape(cell) for cell in (o["key"], o["type"], default, o["description"],
                                                 o["limits"])))
    view.print(console)
