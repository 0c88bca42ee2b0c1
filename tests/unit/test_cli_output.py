"""Quiet by default: builds and setup-runtime print their steps, keep every line in a log file
named on failure, and print it all with -v; tables are plain rows off a terminal."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from cjm_docker.cli.output import BuildProgress, SetupProgress
from cjm_docker.cli.tables import Rows
from cjm_docker.engine import BuildEvent

LONG_STEP = "Step 5/12 : ENV " + "X=1 " * 100


def plain_console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=False, width=80), out


def build(progress: BuildProgress, ok: bool) -> None:
    with progress:
        progress.start("echo", "building cjm-plugin/echo:abc")
        progress.event("echo", BuildEvent("step", LONG_STEP))
        for i in range(50):
            progress.event("echo", BuildEvent("output", f"pip line {i}"))
        progress.event("echo", BuildEvent("warning", "the build context is 300 MiB"))
        progress.finish("echo", ok, "done" if ok else "pip failed")


def test_a_quiet_build_prints_steps_and_names_its_log_on_failure(tmp_path: Path) -> None:
    console, out = plain_console()
    build(BuildProgress(console, logs_dir=tmp_path), ok=False)
    text = out.getvalue()
    assert "pip line" not in text
    assert "[echo] Step 5/12 : ENV X=1" in text and max(map(len, text.splitlines())) < 140
    assert "warning echo: the build context is 300 MiB" in text
    log = tmp_path / "build-echo.log"
    assert f"Full log: {log}" in text
    assert "pip line 49" in log.read_text() and LONG_STEP in log.read_text()


def test_a_successful_build_does_not_mention_the_log(tmp_path: Path) -> None:
    console, out = plain_console()
    build(BuildProgress(console, logs_dir=tmp_path), ok=True)
    assert "Full log" not in out.getvalue() and "built echo: done" in out.getvalue()


def test_verbose_prints_every_line(tmp_path: Path) -> None:
    console, out = plain_console()
    build(BuildProgress(console, verbose=True, logs_dir=tmp_path), ok=True)
    assert "[echo]   pip line 49" in out.getvalue()


def test_setup_runtime_keeps_debootstrap_lines_in_its_log(tmp_path: Path) -> None:
    console, out = plain_console()
    with SetupProgress(console, logs_dir=tmp_path) as progress:
        progress.step("debootstrap bookworm")
        for i in range(350):
            progress.line(f"I: Retrieving package {i}")
        progress.done("cjm-docker/base-python:3.11")
    text = out.getvalue()
    assert "Retrieving" not in text and "* debootstrap bookworm" in text
    assert "I: Retrieving package 349" in (tmp_path / "setup-runtime.log").read_text()
    console, out = plain_console()
    with SetupProgress(console, verbose=True, logs_dir=tmp_path) as progress:
        progress.line("I: Retrieving package 1")
    assert "Retrieving package 1" in out.getvalue()


def test_tables_are_plain_aligned_rows_off_a_terminal() -> None:
    console, out = plain_console()
    view = Rows("name", "image", "status")
    view.add_row("cjm-example-echo", "cjm-plugin/echo:" + "a" * 100, "[green]present[/]")
    view.add_row("x", "y", "[red]missing[/]")
    view.print(console)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3                                   # no wrapping at 80 columns
    assert lines[1].endswith("present") and "[green]" not in lines[1]
    assert lines[0].index("image") == lines[2].index("y")    # aligned columns
