"""Runtime commands: `exec` (the main job), `ps`, `logs`, `gc`."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from cjm_docker import labels, naming
from cjm_docker.cli.output import console, print_json, say, table
from cjm_docker.cli.root import app, complete_plugin_names, plugin_name
from cjm_docker.config import CjmConfig, get_config
from cjm_docker.engine import ContainerState, Engine
from cjm_docker.errors import ConfigError, SpecError, UnknownPluginError
from cjm_docker.host.reaper import reap
from cjm_docker.owner import owner_alive


def parse_call_arguments(tokens: list[str]) -> tuple[list[Any], dict[str, Any]]:
    """``key=value`` pairs (values parsed as JSON when they are JSON), JSON objects (merged
    into the keyword arguments), JSON arrays (positional), anything else positional text."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for token in tokens:
        stripped = token.strip()
        if stripped[:1] in "{[":
            try:
                value = json.loads(stripped)
            except json.JSONDecodeError as exc:
                raise SpecError(f"Argument {token!r} looks like JSON but is not valid: {exc}.") from exc
            if isinstance(value, dict):
                kwargs.update(value)
            else:
                args.extend(value)
            continue
        key, sep, raw = token.partition("=")
        if sep and key.isidentifier():
            try:
                kwargs[key] = json.loads(raw)
            except json.JSONDecodeError:
                kwargs[key] = raw
        else:
            args.append(token)
    return args, kwargs


def typed_values(tokens: list[str]) -> dict[str, str]:
    """``key=value`` tokens as typed: key -> the value's text."""
    pairs = (token.partition("=") for token in tokens if token.strip()[:1] not in "{[")
    return {key: raw for key, sep, raw in pairs if sep and key.isidentifier()}


def parse_config(text: str | None) -> dict[str, Any] | None:
    """``--config``: a JSON object, or a one-paragraph error saying what is wrong with it."""
    if text is None:
        return None
    hint = ("Pass a JSON object with double-quoted keys, e.g. --config '{\"repeat\": 2}'; "
            "`cjm-ctl show NAME` lists the plugin's config keys and defaults.")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--config {text!r} is not valid JSON: {exc.msg} at character "
                          f"{exc.pos + 1}.", hint=hint) from exc
    if not isinstance(value, dict):
        raise ConfigError(f"--config must be a JSON object of config keys, not a "
                          f"{_json_kind(value)} ({text!r}).", hint=hint)
    return value


def _json_kind(value: Any) -> str:
    return {list: "list", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number")


@app.command("exec")
def exec_plugin(
    name: Annotated[str, typer.Argument(help="Plugin (manifest or plugins.yaml name).",
                                        callback=plugin_name,
                                        autocompletion=complete_plugin_names)],
    arguments: Annotated[list[str] | None, typer.Argument(
        help="key=value pairs, a JSON object of keyword arguments, or positional values.")] = None,
    config: Annotated[str | None, typer.Option("--config", "-c",
                                               help="Plugin config as a JSON object.")] = None,
    stream: Annotated[bool, typer.Option("--stream", help="Call execute_stream; print each chunk.")] = False,
    raw: Annotated[bool, typer.Option("--json", help="Print bare JSON (for scripts).")] = False,
) -> None:
    """Load a plugin in its container, run it once with the arguments, print the result."""
    from cjm_docker.host.manager import PluginManager
    from cjm_docker.host.signature import check_call, keep_text

    args, kwargs = parse_call_arguments(arguments or [])
    plugin_config = parse_config(config)
    manager = PluginManager()
    manager.discover_manifests()
    meta = manager.get_discovered_meta(name)
    if meta is None:
        raise manager.unknown(name)
    kwargs = keep_text(meta.manifest, kwargs, typed_values(arguments or []), stream=stream)
    check_call(meta.manifest, args, kwargs, stream=stream)   # before any container starts
    started = time.perf_counter()
    with manager:
        manager.load_plugin(meta, plugin_config)
        loaded = time.perf_counter()
        if stream:
            for chunk in manager.execute_plugin_stream_sync(meta.name, *args, **kwargs):
                _print_value(chunk, raw)
        else:
            _print_value(manager.execute_plugin(meta.name, *args, **kwargs), raw)
        done = time.perf_counter()
    if not raw:
        console.print(f"[dim]{meta.name}: started in {loaded - started:.2f} s, "
                      f"ran in {done - loaded:.3f} s, container removed.[/dim]", highlight=False)


def _print_value(value: Any, raw: bool) -> None:
    text = json.dumps(value, indent=None if raw else 2, default=str)
    if raw:
        sys.stdout.write(text + "\n")
    else:
        console.print_json(text)


def _plugin_containers(engine: Engine) -> list[ContainerState]:
    return engine.list_containers({labels.MANAGED: "true", labels.ROLE: "plugin"})


def _container_names(rows: list[ContainerState]) -> Callable[[ContainerState], tuple[str, str]]:
    """A container's (manifest name, plugins.yaml name); containers started before the
    plugins.yaml name was a label get it from this data dir's manifests."""
    from cjm_docker.images.inventory import read_manifests

    spec_of: dict[str, str] = {}
    if any(not r.labels.get(labels.SPEC_NAME) for r in rows):
        spec_of = {m.name: m.spec_name for _, m in read_manifests(get_config().manifests_dir)}

    def names(row: ContainerState) -> tuple[str, str]:
        plugin = row.labels.get(labels.PLUGIN, "")
        return plugin, row.labels.get(labels.SPEC_NAME) or spec_of.get(plugin, "")
    return names


def containers_of(name: str, rows: list[ContainerState]) -> list[ContainerState]:
    """The containers of the plugin that answers to ``name`` (either of its names).

    Raises:
        UnknownPluginError: no container answers to it (the running plugins are listed).
    """
    names = _container_names(rows)
    first = naming.pick(name, rows, names)
    if first is None:
        raise naming.unknown_plugin(
            name, naming.typable(names(r) for r in rows), where="has a container",
            hint="`cjm-ctl ps` lists the plugin containers; `cjm-ctl exec NAME` starts one.")
    return [r for r in rows if names(r)[0] == names(first)[0]]


@app.command("ps")
def ps(
    name: Annotated[str | None, typer.Argument(
        help="Only this plugin's containers (either of its names).", callback=plugin_name,
        autocompletion=complete_plugin_names)] = None,
    raw: Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")] = False,
) -> None:
    """Running plugin containers (all hosts) as a table."""
    rows = _plugin_containers(Engine())
    names = _container_names(rows)
    if name is not None:
        rows = containers_of(name, rows)
    rows = sorted(rows, key=lambda r: (names(r)[0], r.name))
    if raw:
        print_json([{"container": r.name, "id": r.id, "plugin": names(r)[0],
                     "spec_name": names(r)[1], "state": r.status, "image": r.image,
                     "owner_pid": r.labels.get(labels.OWNER_PID),
                     "owner_host": r.labels.get(labels.OWNER_HOST),
                     "owner_alive": owner_alive(r.labels),
                     "session": r.labels.get(labels.SESSION, "")} for r in rows])
        return
    if not rows:
        say("No plugin containers.")
        return
    view = table("container", "plugin", "spec", "state", "owner", "session", "image")
    for row in rows:
        alive = owner_alive(row.labels)
        owner = f"{row.labels.get(labels.OWNER_PID, '?')}" + \
            {True: "", False: " (dead)", None: f"@{row.labels.get(labels.OWNER_HOST, '?')}"}[alive]
        view.add_row(row.name, *names(row), row.status, owner,
                     row.labels.get(labels.SESSION, ""), row.image)
    view.print(console)


@app.command("logs")
def logs(
    name: Annotated[str, typer.Argument(help="Plugin (manifest or plugins.yaml name).",
                                        callback=plugin_name,
                                        autocompletion=complete_plugin_names)],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")] = False,
    lines: Annotated[int, typer.Option("--lines", "-n", min=0, help="Lines of history.")] = 100,
) -> None:
    """Print a running plugin container's log (the most recently started one)."""
    engine = Engine()
    rows = containers_of(name, _plugin_containers(engine))
    states = [s for s in (engine.container_state(r.id) for r in rows) if s]
    if not states:
        raise UnknownPluginError(f"The containers of plugin '{name}' are gone.", plugin=name,
                                 hint="See `cjm-ctl ps`.")
    latest = max(states, key=lambda s: s.started_at)
    if follow:
        for text in engine.follow_logs(latest.id, tail=lines):
            sys.stdout.write(text)
            sys.stdout.flush()
    else:
        sys.stdout.write(engine.container_logs(latest.id, tail=lines))


@app.command("gc")
def gc(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list what would go.")] = False,
    foreign: Annotated[bool, typer.Option(
        "--include-foreign", help="Also containers owned by hosts on other machines.")] = False,
    images: Annotated[bool, typer.Option(
        "--images", help="Remove images instead: tags no manifest names, dangling cjm images "
                         "(this configuration's image_prefix, runtime and stack repositories only).")] = False,
    data_dir: Annotated[list[Path] | None, typer.Option(
        "--data-dir", help="With --images: another data dir whose manifests keep their images "
                           "(repeatable; installs on this machine are known already).")] = None,
    grace: Annotated[float, typer.Option(
        "--grace", min=0, help="With --images: leave images younger than this many seconds "
                               "(a build under way).")] = 600.0,
) -> None:
    """Remove containers (workers, build helpers, a killed build's intermediate containers)
    whose host process is gone (never a live host's), or with --images the images no manifest
    needs any more."""
    config = get_config()
    if images:
        _gc_images(config, dry_run=dry_run, data_dirs=data_dir or [], grace=grace)
        return
    orphans = reap(Engine(), dry_run=dry_run, include_foreign=foreign)
    if not orphans:
        say("Nothing to collect.")
        return
    view = table("container", "plugin", "reason")
    for orphan in orphans:
        view.add_row(orphan.container.name, orphan.container.labels.get(labels.PLUGIN, "?"),
                     orphan.reason)
    view.print(console)
    say(f"{'Would remove' if dry_run else 'Removed'} {len(orphans)} container(s).")


def _gc_images(config: CjmConfig, *, dry_run: bool, data_dirs: list[Path], grace: float) -> None:
    from cjm_docker.images.gc import collect, known_data_dirs, namespaces, plan_image_gc
    from cjm_docker.images.sizes import human_size

    engine = Engine()
    dirs = known_data_dirs(config, data_dirs)
    items = plan_image_gc(engine, config, dirs, grace_s=grace)
    scope = ", ".join(f"{n}/" for n in namespaces(config))
    if not items:
        say(f"No images to collect under {scope} ({len(dirs)} data dir(s) consulted).")
        return
    results = [(item, "would remove") for item in items] if dry_run else collect(engine, items)
    view = table("image", "reason", "size", "result")
    for item, result in results:
        view.add_row(item.ref, item.reason, human_size(item.size_bytes), result)
    view.print(console)
    removed = sum(1 for _, result in results if result == "removed")
    say(f"{'Would remove' if dry_run else 'Removed'} {len(items) if dry_run else removed} "
        f"image(s) under {scope}; {len(dirs)} data dir(s) consulted.")
