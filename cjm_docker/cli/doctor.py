"""`cjm-ctl doctor`: is this machine ready? One row per check, with what to do when it is not."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from cjm_docker.cli.output import console
from cjm_docker.cli.root import app
from cjm_docker.config import get_config
from cjm_docker.diagnostics import Status, run_checks

_STYLE = {Status.OK: "green", Status.INFO: "dim", Status.WARN: "yellow", Status.FAIL: "bold red"}


@app.command("doctor")
def doctor() -> None:
    """Check the engine, runtimes, GPUs, disk, base images, proxy and CA settings."""
    results = run_checks(get_config())
    rows = Table(title="cjm-docker doctor", header_style="bold")
    rows.add_column("check", no_wrap=True)
    rows.add_column("status", no_wrap=True)
    rows.add_column("detail", overflow="fold", ratio=3)
    rows.add_column("what to do", overflow="fold", ratio=2)
    for r in results:
        rows.add_row(r.name, f"[{_STYLE[r.status]}]{r.status.value}[/]", escape(r.detail),
                     escape(r.remedy))
    console.print(rows)
    if any(r.status is Status.FAIL for r in results):
        raise typer.Exit(1)
