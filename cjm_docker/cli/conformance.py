"""Conformance commands: test (build what is missing, run the suite), ci-matrix."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from cjm_docker.cli.images import _builder, _plugins_path
from cjm_docker.cli.options import PluginsOption
from cjm_docker.cli.output import (
    BuildProgress,
    console,
    err_console,
    print_error,
    print_json,
    table,
)
from cjm_docker.cli.root import app, state
from cjm_docker.config import get_config
from cjm_docker.errors import CjmDockerError, ConfigError


@app.command("test")
def test(
    names: Annotated[list[str] | None, typer.Argument(
        help="plugins.yaml names (default: every plugin).")] = None,
    plugins: PluginsOption = None,
    junit: Annotated[Path | None, typer.Option(
        "--junit", help="Write a JUnit XML report here (one testsuite per plugin).")] = None,
    build: Annotated[bool, typer.Option(
        "--build/--no-build", help="Build missing or outdated images first.")] = True,
    start_timeout: Annotated[float, typer.Option(
        "--start-timeout", help="Seconds a container may take to become ready.")] = 120.0,
    cleanup_timeout: Annotated[float, typer.Option(
        "--cleanup-timeout", help="Seconds the plugin's cleanup may take.")] = 30.0,
    raw: Annotated[bool, typer.Option(
        "--json", help="Print the reports as JSON on stdout (progress goes to stderr).")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show every build line.")] = False,
) -> None:
    """Run the conformance suite against each plugin's real container; exit 1 on a failure."""
    from cjm_docker.conformance import (
        CheckResult,
        Outcome,
        PluginReport,
        Timeouts,
        junit_xml,
        render_table,
        run_conformance,
        summary_line,
    )
    from cjm_docker.host.manager import PluginManager
    from cjm_docker.images.inventory import read_manifests
    from cjm_docker.spec.resolve import load_specs

    config = get_config()
    if junit is not None and (junit.is_dir() or (junit.parent.exists() and not junit.parent.is_dir())):
        raise ConfigError(f"--junit {junit}: not a file that can be written (a folder, or under "
                          "a file).", hint="Pass a file path such as reports/conformance.xml.")
    out = err_console if raw else console
    known = {m.name: m.spec_name for _, m in read_manifests(config.manifests_dir) if m.spec_name}
    plugins_file, specs = load_specs(_plugins_path(plugins, config), only=names or None,
                                     manifest_names=known,
                                     extra_ca_files=config.ca_certificate_files())
    entries = {e.name: e for e in plugins_file.plugins}
    reports: list[PluginReport] = []
    manifest_names: dict[str, str] = {}
    with BuildProgress(out, verbose=verbose, logs_dir=config.logs_dir) as progress:
        builder = _builder(plugins, progress) if build else None
        for spec in specs:
            if builder is None:
                manifest_names[spec.name] = spec.name
                continue
            try:
                manifest_names[spec.name] = builder.install(spec).manifest.name
            except CjmDockerError as exc:
                print_error(exc, debug=state.debug)
                reports.append(PluginReport(spec.name, [CheckResult(
                    "build", Outcome.FAILED, 0.0, str(exc))]))
    timeouts = Timeouts(start=start_timeout, cleanup=cleanup_timeout)

    def show(plugin: str, result: CheckResult) -> None:
        style = {"passed": "green", "failed": "bold red", "skipped": "yellow"}[result.outcome.value]
        out.print(f"[{style}]{result.outcome.value:>7}[/] {escape(plugin)} {escape(result.check)}",
                  highlight=False, markup=True)

    manager = PluginManager(search_paths=[config.manifests_dir], config=config)
    for spec in specs:
        if spec.name not in manifest_names:
            continue   # its build failed: already reported
        out.print(f"Testing {spec.name} ...", markup=False, highlight=False)
        reports.append(run_conformance(manager, manifest_names[spec.name],
                                       entries[spec.name].samples, timeouts=timeouts,
                                       listener=show))
    if raw:
        print_json([{"plugin": r.plugin, "passed": r.passed, "seconds": round(r.seconds, 3),
                     "checks": [{"check": c.check, "outcome": c.outcome.value,
                                 "seconds": round(c.seconds, 3), "message": c.message}
                                for c in r.results]} for r in reports])
    elif console.is_terminal:
        for report in reports:
            console.print(render_table(report))
    else:   # a CI log: one plain line per check, never wrapped at 80 columns
        for report in reports:
            view = table("outcome", "check", "seconds", "message", title=report.plugin)
            for c in report.results:
                view.add_row(c.outcome.value, escape(c.check), f"{c.seconds:.2f}",
                             escape(" ".join(c.message.split())))
            view.print(console)
    for report in reports:
        out.print(summary_line(report), style="green" if report.passed else "bold red",
                  markup=False, highlight=False)
    if junit is not None:
        try:
            junit.parent.mkdir(parents=True, exist_ok=True)
            junit.write_text(junit_xml(reports))
        except OSError as exc:
            raise ConfigError(f"Cannot write the JUnit report {junit}: {exc.strerror}.") from exc
        out.print(f"JUnit report: {junit}", markup=False, highlight=False)
    failed = [r.plugin for r in reports if not r.passed]
    if failed:
        out.print(f"{len(failed)} of {len(reports)} plugin(s) failed: {', '.join(failed)}",
                  style="bold red", markup=False, highlight=False)
        raise typer.Exit(1)


@app.command("ci-matrix")
def ci_matrix_command(
    plugins: PluginsOption = None,
    output: Annotated[str | None, typer.Option(
        "--github-output", help="Also append 'matrix=<json>' to this file ($GITHUB_OUTPUT).")] = None,
) -> None:
    """Print the GitHub Actions matrix (JSON, one line): a job per plugin, Python and runner."""
    from cjm_docker.conformance import ci_matrix
    from cjm_docker.spec.plugins_file import load_plugins_file

    matrix = ci_matrix(load_plugins_file(_plugins_path(plugins, get_config())).plugins)
    text = json.dumps(matrix, separators=(",", ":"))
    sys.stdout.write(text + "\n")
    if output:
        with open(output, "a", encoding="utf-8") as handle:
            handle.write(f"matrix={text}\n")
