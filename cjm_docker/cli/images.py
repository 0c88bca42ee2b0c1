"""Image commands: setup-runtime, install-all, build, render, schema, setup-host (what is
installed is cli/installed.py's: list, remove, estimate-size)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import click
import typer

from cjm_docker.cli.options import (
    BuildVerboseOption,
    NoCacheOption,
    PluginsOption,
    ReplaceOption,
    UpgradeOption,
)
from cjm_docker.cli.output import (
    BuildProgress,
    SetupProgress,
    console,
    print_error,
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
             engine: Engine | None = None, replace: bool = False) -> ImageBuilder:
    from cjm_docker.spec.plugins_file import load_plugins_file

    config = get_config()
    names = load_plugins_file(_plugins_path(plugins, config)).names()
    return ImageBuilder(config, engine=engine, reporter=reporter, plugin_names=names,
                        replace=replace)


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
    no_cache: NoCacheOption = False,
    upgrade: UpgradeOption = False,
    verbose: BuildVerboseOption = False,
    replace: ReplaceOption = False,
) -> None:
    """Build every plugin's image and write its manifest (unchanged plugins are skipped)."""
    started = time.perf_counter()
    specs = _specs(plugins, plugin)
    failures: list[tuple[str, CjmDockerError]] = []
    built = current = 0
    say(f"Found {len(specs)} plugin(s) to process.")
    with BuildProgress(verbose=verbose, logs_dir=get_config().logs_dir) as progress:
        builder = _builder(plugins, progress, replace=replace)
        for spec in specs:
            try:
                result = builder.install(spec, force=force, nocache=no_cache, upgrade=upgrade)
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
    no_cache: NoCacheOption = False,
    upgrade: UpgradeOption = False,
    verbose: BuildVerboseOption = False,
    replace: ReplaceOption = False,
) -> None:
    """Build one plugin's image, introspect it and write its manifest."""
    (spec,) = _specs(plugins, [name])
    with BuildProgress(verbose=verbose, logs_dir=get_config().logs_dir) as progress:
        result = _builder(plugins, progress, replace=replace).install(
            spec, force=force, nocache=no_cache, upgrade=upgrade)
    if not result.built:
        say(f"up to date: {spec.name} ({result.tag}); --force rebuilds.")


@app.command("render")
def render(
    name: NameArgument,
    plugins: PluginsOption = None,
    runtime: Annotated[bool, typer.Option(
        "--runtime", help="The shared runtime image's Dockerfile instead.")] = False,
) -> None:
    """Print the Dockerfile rendered for a plugin (its layers on the shared runtime)."""
    (spec,) = _specs(plugins, [name])
    prepared = _builder(plugins).plan(spec)
    if runtime and prepared.runtime is None:
        raise CjmDockerError(f"Plugin '{spec.name}' ({spec.flavor.value} flavor) has no shared "
                             "runtime image: its Dockerfile holds everything.", plugin=spec.name)
    sys.stdout.write(prepared.runtime.dockerfile if runtime and prepared.runtime
                     else prepared.dockerfile)


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
