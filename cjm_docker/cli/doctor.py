"""`cjm-ctl doctor`: is this machine ready? One row per check, with what to do when it is not."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from cjm_docker.cli.output import console, print_json, table
from cjm_docker.cli.root import app
from cjm_docker.config import get_config
from cjm_docker.diagnostics import Status, run_checks

_STYLE = {Status.OK: "green", Status.INFO: "dim", Status.WARN: "yellow", Status.FAIL: "bold red"}


@app.command("doctor")
def doctor(
    raw: Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")] = False,
) -> None:
    """Check the engine (and which one), runtimes, GPUs, disk, base images, proxy and CA."""
    results = run_checks(get_config())
    if raw:
        print_json([{"check": r.name, "status": r.status.value, "detail": r.detail,
                     "remedy": r.remedy} for r in results])
    else:
        rows = table("check", "status", "detail", "what to do", title="cjm-docker doctor")
        for r in results:
            rows.add_row(escape(r.name), f"[{_STYLE[r.status]}]{r.status.value}[/]",
                         escape(r.detail), escape(r.remedy))
        rows.print(console)
    if any(r.status is Status.FAIL for r in results):
        raise typer.Exit(1)
