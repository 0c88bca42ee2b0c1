"""Commands about what is installed: list (and why an image is stale), remove, estimate-size."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from cjm_docker.cli.images import (
    NameArgument,
    _builder,
    _confirm,
    _plugins_path,
    _specs,
)
from cjm_docker.cli.options import PluginsOption
from cjm_docker.cli.output import console, print_json, say, table
from cjm_docker.cli.root import app, plugin_names
from cjm_docker.config import get_config
from cjm_docker.engine import Engine
from cjm_docker.errors import BaseImageMissingError
from cjm_docker.spec.resolve import PluginSpec


@app.command("estimate-size")
def estimate_size(
    plugins: PluginsOption = None,
    plugin: Annotated[list[str] | None, typer.Option("--plugin", "-p", help="Only this plugin.",
                                                                 callback=plugin_names)] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Per-package sizes.")] = False,
    raw: Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")] = False,
) -> None:
    """Disk size per plugin: the image's real size when built, else an estimate."""
    from cjm_docker.images.runtime import worker_requirements
    from cjm_docker.images.sizes import human_size, package_sizes, pypi_lookup

    config = get_config()
    specs = _specs(plugins, plugin)
    builder = _builder(plugins)
    lookup = pypi_lookup(config.ca_certificate_files())
    found: list[dict[str, Any]] = []
    for spec in specs:
        image = None
        try:
            prepared = builder.prepare(spec)
            image = builder.engine.image_inspect(prepared.tag)
            base = builder.engine.image_inspect(prepared.base_image)
        except BaseImageMissingError:
            base = None
        if image is not None:
            # the image's layers: those of its runtime (and stack) are shared with every plugin
            # on them, and on disk once; the rest are its own
            total = int(image.get("Size") or 0)
            shared_ref = prepared.stack_tag or prepared.runtime_tag
            shared_doc = builder.engine.image_inspect(shared_ref) if shared_ref else None
            shared = int(shared_doc.get("Size") or 0) if shared_doc else 0
            found.append({"plugin": spec.name, "size_bytes": total, "shared_bytes": shared,
                          "unique_bytes": total - shared,
                          "shared_images": list(prepared.shared_images),
                          "source": f"image {prepared.tag}", "estimate": False, "parts": []})
            continue
        packages = package_sizes(spec, worker_requirements(), lookup)
        base_size = int(base.get("Size") or 0) if base else 0
        unknown = sum(1 for p in packages if p.size_bytes is None)
        parts = [{"name": "base", "size_bytes": base_size,
                  "note": "present" if base else "missing"}]
        parts += [{"name": p.spec, "size_bytes": p.size_bytes,
                   "note": p.note or (p.lookup_name or "")} for p in packages]
        found.append({"plugin": spec.name,
                      "size_bytes": base_size + sum(p.size_bytes or 0 for p in packages),
                      "source": "estimate: base + compressed packages"
                                + (f", {unknown} unknown" if unknown else ""),
                      "estimate": True, "parts": parts})
    total = sum(row["size_bytes"] for row in found)
    # on disk, each shared image once: a runtime whole, a stack by what it adds to its runtime
    shared_parts: dict[str, int] = {}
    for row in found:
        below = 0
        for ref in row.get("shared_images") or []:
            doc = builder.engine.image_inspect(ref)
            size = int(doc.get("Size") or 0) if doc else 0
            shared_parts[ref] = size - below
            below = size
    on_disk = sum(row.get("unique_bytes", row["size_bytes"]) for row in found) \
        + sum(shared_parts.values())
    if raw:
        print_json({"plugins": found, "total_bytes": total, "on_disk_bytes": on_disk,
                    "shared_images": shared_parts})
        return
    view = table("plugin", "size", "shared", "own", "source")
    for row in found:
        common: int | None = row.get("shared_bytes")
        view.add_row(row["plugin"], human_size(row["size_bytes"]),
                     human_size(common) if common is not None else "-",
                     human_size(row["unique_bytes"]) if common is not None else "-",
                     row["source"])
        for part in row["parts"] if verbose else []:
            size = part["size_bytes"]
            view.add_row(f"  {part['name']}", human_size(size) if size is not None else "?",
                         "", "", escape(part["note"]))
    view.print(console)
    say(f"Total: {human_size(total)}; on disk {human_size(on_disk)} with the shared runtime and "
        f"stack images counted once ({len(shared_parts)} shared). Pip sizes are compressed "
        "downloads of direct dependencies only; built images show their real size.")


def current_specs(plugins: Path | None) -> list[PluginSpec]:
    """The plugins of plugins.yaml (validated), or none when there is no plugins.yaml."""
    path = _plugins_path(plugins, get_config())
    return _specs(plugins) if plugins is not None or path.is_file() else []


def expected_tags(plugins: Path | None, specs: list[PluginSpec],
                  engine: Engine) -> dict[str, str]:
    """plugins.yaml name -> the tag it would build now (a plugin whose base image is missing
    has no expected tag)."""
    expected: dict[str, str] = {}
    if specs:
        builder = _builder(plugins, engine=engine)
        for spec in specs:
            try:
                expected[spec.name] = builder.prepare(spec).tag
            except BaseImageMissingError:
                continue
    return expected


@app.command("list")
def list_plugins(
    plugins: PluginsOption = None,
    raw: Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")] = False,
) -> None:
    """Installed plugins (manifests) with their image status, and why a stale one is stale."""
    from cjm_docker.images.inventory import Inventory
    from cjm_docker.images.sizes import human_size

    config = get_config()
    specs = current_specs(plugins)   # a broken plugins.yaml is said before the engine is asked
    engine = Engine()
    rows = Inventory(config, engine).listing(expected_tags(plugins, specs, engine),
                                             {s.name: s.runtime for s in specs})
    if raw:
        print_json([{"name": r.manifest.name, "spec_name": r.manifest.spec_name,
                     "version": r.manifest.version, "category": r.manifest.category,
                     "image": r.manifest.image, "status": r.status.value, "reason": r.reason,
                     "action": r.action, "size_bytes": r.size_bytes, "manifest": str(r.path)}
                    for r in rows])
        return
    if not rows:
        say(f"No plugins installed in {config.manifests_dir}.")
        return
    view = table("name", "spec", "version", "category", "image", "status", "size")
    colours = {"present": "green", "missing": "red", "stale": "yellow"}
    for row in rows:
        m = row.manifest
        view.add_row(*(escape(v) for v in (m.name, m.spec_name, m.version, m.category, m.image)),
                     f"[{colours[row.status.value]}]{row.status.value}[/]",
                     human_size(row.size_bytes) if row.size_bytes is not None else "-")
    view.print(console)
    for row in rows:
        if row.action:
            say(f"{row.manifest.name} is {row.status.value}: {row.reason}. Run: {row.action}",
                style="yellow")


@app.command("remove")
def remove(
    name: NameArgument,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Remove a plugin's manifest and its image."""
    from cjm_docker.images.inventory import Inventory

    config = get_config()
    inventory = Inventory(config)
    found = inventory.find(name)
    if found is None:
        raise inventory.unknown(name)
    path, manifest = found
    say(f"Will remove manifest {path} and image {manifest.image}.")
    if not yes:
        _confirm("Remove?")
    removed = inventory.remove(manifest, path)
    say(f"Removed {manifest.name}" + ("" if removed else " (its image was already gone)") + ".")
