"""Runtime commands: `exec` (the main job), `ps`, `logs`, `gc`."""

from __future__ import annotations

import json
import sys
import time
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from cjm_docker import labels
from cjm_docker.cli.root import app
from cjm_docker.config import get_config
from cjm_docker.engine import Engine
from cjm_docker.errors import SpecError, UnknownPluginError
from cjm_docker.host.owner import owner_alive
from cjm_docker.host.reaper import reap

console = Console()


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


@app.command("exec")
def exec_plugin(
    name: Annotated[str, typer.Argument(help="Plugin (manifest or plugins.yaml name).")],
    arguments: Annotated[list[str] | None, typer.Argument(
        help="key=value pairs, a JSON object of keyword arguments, or positional values.")] = None,
    config: Annotated[str | None, typer.Option("--config", "-c",
                                               help="Plugin config as a JSON object.")] = None,
    stream: Annotated[bool, typer.Option("--stream", help="Call execute_stream; print each chunk.")] = False,
    raw: Annotated[bool, typer.Option("--json", help="Print bare JSON (for scripts).")] = False,
) -> None:
    """Load a plugin in its container, run it once with the arguments, print the result."""
    from cjm_docker.host.manager import PluginManager

    args, kwargs = parse_call_arguments(arguments or [])
    plugin_config = json.loads(config) if config else None
    manager = PluginManager()
    manager.discover_manifests()
    meta = manager.get_discovered_meta(name)
    if meta is None:
        known = ", ".join(m.name for m in manager.discovered) or "none installed"
        raise UnknownPluginError(f"No installed plugin named '{name}' (known: {known}).",
                                 plugin=name, hint="Install it with `cjm-ctl install-all`.")
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


@app.command("ps")
def ps() -> None:
    """Running plugin containers (all hosts) as a table."""
    rows = Engine().list_containers({labels.MANAGED: "true", labels.ROLE: "plugin"})
    table = Table("container", "plugin", "state", "owner", "session", "image")
    for row in sorted(rows, key=lambda r: (r.labels.get(labels.PLUGIN, ""), r.name)):
        alive = owner_alive(row.labels)
        owner = f"{row.labels.get(labels.OWNER_PID, '?')}" + \
            {True: "", False: " (dead)", None: f"@{row.labels.get(labels.OWNER_HOST, '?')}"}[alive]
        table.add_row(row.name, row.labels.get(labels.PLUGIN, "?"), row.status, owner,
                      row.labels.get(labels.SESSION, ""), row.image)
    if not rows:
        console.print("No plugin containers.")
        return
    console.print(table)


@app.command("logs")
def logs(
    name: Annotated[str, typer.Argument(help="Plugin name.")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")] = False,
    lines: Annotated[int, typer.Option("--lines", "-n", help="Lines of history.")] = 100,
) -> None:
    """Print a running plugin container's log (the most recently started one)."""
    engine = Engine()
    rows = [r for r in engine.list_containers({labels.MANAGED: "true", labels.PLUGIN: name})]
    if not rows:
        raise UnknownPluginError(f"No container of plugin '{name}' exists.", plugin=name,
                                 hint="See `cjm-ctl ps`.")
    states = [engine.container_state(r.id) for r in rows]
    latest = max((s for s in states if s), key=lambda s: s.started_at)
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
) -> None:
    """Remove plugin containers whose host process is gone (never a live host's)."""
    get_config()
    orphans = reap(Engine(), dry_run=dry_run, include_foreign=foreign)
    if not orphans:
        console.print("Nothing to collect.")
        return
    table = Table("container", "plugin", "reason")
    for orphan in orphans:
        table.add_row(orphan.container.name, orphan.container.labels.get(labels.PLUGIN, "?"),
                      orphan.reason)
    console.print(table)
    console.print(f"{'Would remove' if dry_run else 'Removed'} {len(orphans)} container(s).")
