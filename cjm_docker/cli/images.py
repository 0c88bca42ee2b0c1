"""Image commands: setup-runtime, install-all, build, render, schema, setup-host,
estimate-size, list, remove."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from rich.markup import escape

from cjm_docker.cli.output import (
    BuildProgress,
    SetupProgress,
    console,
    print_error,
    print_json,
    say,
    table,
)
from cjm_docker.cli.root import app, complete_plugin_names, plugin_name, plugin_names, state
from cjm_docker.config import CjmConfig, get_config
from cjm_docker.engine import Engine
from cjm_docker.errors import BaseImageMissingError, CjmDockerError, ConfigError
from cjm_docker.images.build import ImageBuilder
from cjm_docker.spec.plugins_file import PYTHON_VERSIONS, json_schema
from cjm_docker.spec.resolve import PluginSpec, host_python_version, load_specs

PluginsOption = Annotated[Path | None, typer.Option(
    "--plugins", help="plugins.yaml (default: plugins_config from cjm.yaml, else ./plugins.yaml).")]
NameArgument = Annotated[str, typer.Argument(help="plugins.yaml name or manifest name.",
                                             callback=plugin_name,
                                             autocompletion=complete_plugin_names)]


def _confirm(question: str) -> None:
    """Ask; stop with exit 1 unless the answer is yes (no terminal: the answer is no)."""
    try:
        answer = typer.confirm(question)
    except (click.exceptions.Abort, typer.Abort, EOFError):
        answer = False
    if not answer:
        say("Nothing done (not confirmed; -y skips the question).")
        raise typer.Exit(1)


def _plugins_path(plugins: Path | None, config: CjmConfig) -> Path:
    return plugins if plugins is not None else config.plugins_config


def _specs(plugins: Path | None, only: list[str] | None = None) -> list[PluginSpec]:
    from cjm_docker.images.inventory import read_manifests

    config = get_config()
    names = {m.name: m.spec_name for _, m in read_manifests(config.manifests_dir) if m.spec_name}
    _, specs = load_specs(_plugins_path(plugins, config), only=only, manifest_names=names,
                          extra_ca_files=config.ca_certificate_files())
    return specs


def _builder(plugins: Path | None, reporter: BuildProgress | None = None,
             engine: Engine | None = None) -> ImageBuilder:
    from cjm_docker.spec.plugins_file import load_plugins_file

    config = get_config()
    names = load_plugins_file(_plugins_path(plugins, config)).names()
    return ImageBuilder(config, engine=engine, reporter=reporter, plugin_names=names)


@app.command("setup-runtime")
def setup_runtime(
    plugins: PluginsOption = None,
    python: Annotated[list[str] | None, typer.Option(
        "--python", help="Python version(s) to prepare (default: what plugins.yaml needs, "
                         "else the host's).")] = None,
    force: Annotated[bool, typer.Option("--force", "-f", help="Re-create present bases.")] = False,
    micromamba: Annotated[bool, typer.Option(
        "--micromamba", help="Also the micromamba base, though no plugin needs it.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show every line.")] = False,
) -> None:
    """Make the base images present: pull them, or bootstrap the Python base locally."""
    from cjm_docker.images.bootstrap import RuntimeSetup, needed_bases

    config = get_config()
    path = _plugins_path(plugins, config)
    micromamba_needed = False
    if python:
        versions = sorted(set(python))
        for version in versions:
            if ".".join(version.split(".")[:2]) not in PYTHON_VERSIONS:
                raise ConfigError(f"--python {version}: not a version plugins can run on "
                                  f"(choices: {', '.join(PYTHON_VERSIONS)}).")
    elif plugins is not None or path.is_file():
        versions, micromamba_needed = needed_bases(_specs(plugins))
    else:
        versions = [host_python_version()]
    started = time.perf_counter()
    setup = RuntimeSetup(config, Engine())
    rows, missing = [], []
    with SetupProgress(verbose=verbose, logs_dir=config.logs_dir) as progress:
        setup.reporter = progress
        for version in versions:
            try:
                rows.append(setup.ensure_python(version, force=force))
            except BaseImageMissingError as exc:
                missing.append(exc)
        if micromamba_needed or micromamba:   # only conda environments need it
            try:
                rows.append(setup.ensure_micromamba(force=force))
            except BaseImageMissingError as exc:
                missing.append(exc)
    if rows:
        view = table("base image", "how", "from", "seconds")
        for row in rows:
            view.add_row(row.alias, row.how, row.detail, f"{row.seconds:.1f}")
        view.print(console)
    if not missing:
        say(f"setup-runtime finished in {time.perf_counter() - started:.1f} s.")
    else:
        for problem in missing[1:]:
            print_error(problem, debug=state.debug)
        progress.log.mention(console)
        raise missing[0]


@app.command("install-all")
def install_all(
    plugins: PluginsOption = None,
    force: Annotated[bool, typer.Option("--force/--no-force", help="Rebuild even when current.")] = False,
    plugin: Annotated[list[str] | None, typer.Option(
        "--plugin", "-p", help="Only this plugin (repeatable).", callback=plugin_names)] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Rebuild every layer.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show every build step.")] = False,
) -> None:
    """Build every plugin's image and write its manifest (unchanged plugins are skipped)."""
    started = time.perf_counter()
    specs = _specs(plugins, plugin)
    failures: list[tuple[str, CjmDockerError]] = []
    built = current = 0
    say(f"Found {len(specs)} plugin(s) to process.")
    with BuildProgress(verbose=verbose, logs_dir=get_config().logs_dir) as progress:
        builder = _builder(plugins, progress)
        for spec in specs:
            try:
                result = builder.install(spec, force=force, nocache=no_cache)
            except CjmDockerError as exc:
                failures.append((spec.name, exc))
                print_error(exc, debug=state.debug)
                continue
            if result.built:
                built += 1
            else:
                current += 1
                say(f"up to date: {spec.name} ({result.tag}, manifest {result.manifest.name})")
    say(f"{built} built, {current} up to date, {len(failures)} failed "
        f"in {time.perf_counter() - started:.2f} s.")
    if failures:
        raise typer.Exit(1)


@app.command("build")
def build(
    name: NameArgument,
    plugins: PluginsOption = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even when current.")] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Rebuild every layer.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show every build step.")] = False,
) -> None:
    """Build one plugin's image, introspect it and write its manifest."""
    (spec,) = _specs(plugins, [name])
    with BuildProgress(verbose=verbose, logs_dir=get_config().logs_dir) as progress:
        result = _builder(plugins, progress).install(spec, force=force, nocache=no_cache)
    if not result.built:
        say(f"up to date: {spec.name} ({result.tag}); --force rebuilds.")


@app.command("render")
def render(name: NameArgument, plugins: PluginsOption = None) -> None:
    """Print the Dockerfile rendered for a plugin."""
    (spec,) = _specs(plugins, [name])
    sys.stdout.write(_builder(plugins).plan(spec).dockerfile)


@app.command("schema")
def schema() -> None:
    """Print the JSON Schema of plugins.yaml (for editors)."""
    sys.stdout.write(json.dumps(json_schema(), indent=2, sort_keys=True) + "\n")


@app.command("setup-host")
def setup_host(
    plugins: PluginsOption = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only print the pip command.")] = False,
) -> None:
    """Install the plugins' interface libraries into this (the host's) Python."""
    from cjm_docker.spec.sources import PackageKind, normalize_name

    libs = set()
    for spec in _specs(plugins):
        for lib in spec.interface_libs:
            if lib.dist_name and normalize_name(lib.dist_name) in ("cjm-plugin-system", "cjm-docker"):
                continue  # the host has cjm_docker itself
            libs.add(str(lib.path) if lib.kind == PackageKind.LOCAL else lib.raw.strip())
    if not libs:
        say("No interface libraries to install on the host.")
        return
    command = [sys.executable, "-m", "pip", "install", *sorted(libs)]
    say("Interface libraries for the host: " + ", ".join(sorted(libs)))
    if dry_run:
        say(" ".join(command))
        return
    if not yes:
        _confirm("Install them into this Python?")
    if subprocess.run(command).returncode != 0:
        raise CjmDockerError("pip could not install the interface libraries (output above).")


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
            base = builder.engine.image_inspect(prepared.plan.base_image)
        except BaseImageMissingError:
            base = None
        if image is not None:
            found.append({"plugin": spec.name, "size_bytes": int(image.get("Size") or 0),
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
    if raw:
        print_json({"plugins": found, "total_bytes": total})
        return
    view = table("plugin", "size", "source")
    for row in found:
        view.add_row(row["plugin"], human_size(row["size_bytes"]), row["source"])
        for part in row["parts"] if verbose else []:
            size = part["size_bytes"]
            view.add_row(f"  {part['name']}", human_size(size) if size is not None else "?",
                         escape(part["note"]))
    view.print(console)
    say(f"Total: {human_size(total)} (pip sizes are compressed downloads of direct "
        "dependencies only; built images show their real size).")


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
    rows = Inventory(config, engine).listing(expected_tags(plugins, specs, engine))
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
