"""Rich rendering for `cjm-ctl`: consoles, errors as one paragraph, tables, build progress.

On a terminal, builds and setup-runtime show live progress (rich); otherwise (CI logs, pipes)
each step is printed plainly, prefixed with the plugin's name. Every output line goes to a log
file under the data dir's ``logs/`` (named on failure); ``-v`` prints them too.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import IO, Any, TypeVar

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from cjm_docker.cli.tables import Rows
from cjm_docker.engine import BuildEvent
from cjm_docker.errors import CjmDockerError

console = Console()
err_console = Console(stderr=True)


def say(text: str, *, style: str | None = None) -> None:
    """Print one line or paragraph (no markup, no wrapping that would split words of paths)."""
    console.print(text, style=style, markup=False, highlight=False, soft_wrap=True)


def print_error(exc: BaseException, *, debug: bool = False) -> None:
    """An error as one paragraph on stderr (its attached log tail after it); the traceback
    only with --debug."""
    if debug:
        err_console.print("".join(traceback.format_exception(exc)), markup=False,
                          highlight=False, soft_wrap=True)
    text = str(exc) if isinstance(exc, CjmDockerError) else f"{type(exc).__name__}: {exc}"
    err_console.print("Error: ", style="bold red", end="", soft_wrap=True)
    err_console.print(text, markup=False, highlight=False, soft_wrap=True)


def table(*columns: str, title: str | None = None) -> Rows:
    """A table with these column headers (``.print(console)``: rich on a terminal, plain rows
    otherwise)."""
    return Rows(*columns, title=title)


def print_json(value: Any) -> None:
    """``--json`` output: one JSON document on stdout (sorted keys, for scripts and diffs)."""
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


class PhaseLog:
    """The full output of a long phase (builds, debootstrap), kept in a file under the data
    dir's ``logs/``: the screen shows progress, a failure shows the last lines and this path."""

    def __init__(self, folder: Path | None, name: str):
        self.path: Path | None = None
        self._handle: IO[str] | None = None
        if folder is None:
            return
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self.path = folder / f"{name}.log"
            self._handle = open(self.path, "w", encoding="utf-8")   # noqa: SIM115 (closed in close)
        except OSError:
            self.path = None   # an unwritable data dir costs the log file, not the build

    def write(self, text: str) -> None:
        if self._handle is not None:
            self._handle.write(text + "\n")

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def mention(self, out: Console) -> None:
        """Say where the full log is (after a failure)."""
        if self.path is not None:
            out.print(f"Full log: {self.path}", markup=False, highlight=False, soft_wrap=True)


_Live = TypeVar("_Live", bound="_LiveProgress")


class _LiveProgress:
    """A rich ``Progress`` on a terminal (none elsewhere), started and stopped as a context
    manager; subclasses name its columns and close their logs."""

    def __init__(self, out: Console | None, verbose: bool):
        self.console = out or console
        self.live = self.console.is_terminal
        self.verbose = verbose
        self._progress: Progress | None = None

    def _say(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def _columns(self) -> tuple[ProgressColumn, ...]:
        raise NotImplementedError

    def _close_logs(self) -> None:
        raise NotImplementedError

    def __enter__(self: _Live) -> _Live:
        if self.live:
            self._progress = Progress(*self._columns(), console=self.console, transient=True)
            self._progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        self._close_logs()


class BuildProgress(_LiveProgress):
    """A ``BuildReporter``: a live spinner per plugin on a terminal, the steps as plain lines
    otherwise; every output line goes to ``logs/build-<plugin>.log`` and, with -v, the screen.

    Use as a context manager around the builds.
    """

    def __init__(self, out: Console | None = None, *, verbose: bool = False,
                 logs_dir: Path | None = None):
        super().__init__(out, verbose)
        self.logs_dir = logs_dir
        self._tasks: dict[str, TaskID] = {}
        self._logs: dict[str, PhaseLog] = {}

    def _columns(self) -> tuple[ProgressColumn, ...]:
        return (SpinnerColumn(), TextColumn("[bold]{task.fields[plugin]}"),
                TextColumn("{task.fields[step]}"), TextColumn("[dim]{task.fields[last]}"),
                TimeElapsedColumn())

    def _close_logs(self) -> None:
        for log in self._logs.values():
            log.close()

    def start(self, plugin: str, action: str) -> None:
        self._logs[plugin] = PhaseLog(self.logs_dir, f"build-{plugin}")
        self._logs[plugin].write(action)
        if self._progress is not None:
            self._tasks[plugin] = self._progress.add_task(
                "", total=None, plugin=plugin, step=escape(_clip(action, 60)), last="")
        else:
            self._say(f"[{plugin}] {action}")

    def event(self, plugin: str, event: BuildEvent) -> None:
        if plugin in self._logs:
            self._logs[plugin].write(event.text)
        if event.kind == "warning":
            out = self._progress.console if self._progress is not None else self.console
            out.print(f"[yellow]warning[/] [bold]{escape(plugin)}[/]: {escape(event.text)}",
                      highlight=False, soft_wrap=True)
            return
        if self._progress is not None and plugin in self._tasks:
            field = "step" if event.kind in ("step", "status") else "last"
            width = 60 if field == "step" else 50
            text = escape(_clip(event.text, width))
            if field == "step":
                self._progress.update(self._tasks[plugin], step=text)
            else:
                self._progress.update(self._tasks[plugin], last=text)
            if self.verbose:
                self._progress.console.print(f"[dim]{escape(plugin)}[/] {escape(event.text)}",
                                             highlight=False)
        elif self.verbose:
            indent = "" if event.kind != "output" else "  "
            self._say(f"[{plugin}] {indent}{event.text}")
        elif event.kind in ("step", "status"):   # one short line per step; the log has it all
            self._say(f"[{plugin}] {_clip(event.text, 120)}")

    def finish(self, plugin: str, ok: bool, text: str) -> None:
        if self._progress is not None and plugin in self._tasks:
            self._progress.remove_task(self._tasks.pop(plugin))
        mark, style = ("built", "green") if ok else ("failed", "red")
        self.console.print(f"[{style}]{mark}[/] [bold]{escape(plugin)}[/]: {escape(text)}",
                           highlight=False, soft_wrap=True)
        log = self._logs.pop(plugin, None)
        if log is not None:
            log.close()
            if not ok:
                log.mention(self.console)


class SetupProgress(_LiveProgress):
    """A ``SetupReporter``: a spinner with debootstrap's latest line and a byte bar for the
    import on a terminal; the steps as plain lines otherwise. Every line goes to
    ``logs/setup-runtime.log``; the screen shows them only with -v."""

    def __init__(self, out: Console | None = None, *, verbose: bool = False,
                 logs_dir: Path | None = None):
        super().__init__(out, verbose)
        self.log = PhaseLog(logs_dir, "setup-runtime")
        self._spinner: TaskID | None = None
        self._bar: TaskID | None = None
        self._lines = 0
        self._reported = 0

    def _columns(self) -> tuple[ProgressColumn, ...]:
        return (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                DownloadColumn(), TransferSpeedColumn(), TimeElapsedColumn())

    def _close_logs(self) -> None:
        self.log.close()

    def step(self, text: str) -> None:
        self._lines = 0
        self.log.write(f"* {text}")
        if self._progress is not None:
            for task in (self._spinner, self._bar):
                if task is not None:
                    self._progress.remove_task(task)
            self._bar = None
            self._progress.console.print(f"[cyan]•[/] {escape(text)}", highlight=False, soft_wrap=True)
            self._spinner = self._progress.add_task(escape(_clip(text, 60)), total=None)
        else:
            self._say(f"* {text}")

    def line(self, text: str) -> None:
        self._lines += 1
        self.log.write(text)
        if self._progress is not None and self._spinner is not None:
            self._progress.update(self._spinner, description=escape(
                f"[{self._lines}] {_clip(text, 70)}"))
            if self.verbose:
                self._progress.console.print(f"  {escape(text)}", highlight=False)
        elif self.verbose:
            self._say(f"  {text}")

    def transfer(self, done: int, total: int) -> None:
        if self._progress is not None:
            if self._bar is None:
                self._bar = self._progress.add_task("sending to the engine", total=total)
            self._progress.update(self._bar, completed=done, total=total)
        elif done >= total or done - self._reported >= 64 << 20:
            self._reported = done
            self._say(f"  sent {done >> 20} MiB of about {total >> 20} MiB")

    def done(self, text: str) -> None:
        self.log.write(f"ok {text}")
        self.console.print(f"[green]ok[/] {escape(text)}", highlight=False, soft_wrap=True)
