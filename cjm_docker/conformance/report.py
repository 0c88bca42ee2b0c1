"""Conformance reports: a rich table for the terminal and JUnit XML for CI (both pure)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable

from rich.markup import escape
from rich.table import Table

from cjm_docker.conformance.results import Outcome, PluginReport

_STYLE = {Outcome.PASSED: "green", Outcome.FAILED: "bold red", Outcome.SKIPPED: "yellow"}
_MARK = {Outcome.PASSED: "PASS", Outcome.FAILED: "FAIL", Outcome.SKIPPED: "SKIP"}


def render_table(report: PluginReport) -> Table:
    """One row per check: verdict, name, seconds, message."""
    verdict = "[green]passed[/]" if report.passed else "[bold red]FAILED[/]"
    view = Table(title=f"{escape(report.plugin)}: {verdict}", title_justify="left",
                 header_style="bold")
    for column in ("", "check", "seconds", "message"):
        view.add_column(column, overflow="fold")
    for r in report.results:
        style = _STYLE[r.outcome]
        view.add_row(f"[{style}]{_MARK[r.outcome]}[/]", escape(r.check), f"{r.seconds:.2f}",
                     escape(r.message))
    return view


def summary_line(report: PluginReport) -> str:
    """``name: FAILED (9 passed, 1 failed, 2 skipped in 3.1 s)``: the verdict first, so a CI
    log (no colours, no table title) says it in words."""
    counts = ", ".join(f"{report.count(o)} {o.value}" for o in Outcome)
    verdict = "passed" if report.passed else "FAILED"
    return f"{report.plugin}: {verdict} ({counts} in {report.seconds:.1f} s)"


def junit_xml(reports: Iterable[PluginReport], *, name: str = "cjm-conformance") -> str:
    """JUnit XML: one testsuite per plugin, one testcase per check."""
    reports = list(reports)
    root = ET.Element("testsuites", name=name)
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    seconds = 0.0
    for report in reports:
        suite = ET.SubElement(root, "testsuite", name=report.plugin,
                              tests=str(len(report.results)),
                              failures=str(report.count(Outcome.FAILED)), errors="0",
                              skipped=str(report.count(Outcome.SKIPPED)),
                              time=f"{report.seconds:.3f}")
        for r in report.results:
            case = ET.SubElement(suite, "testcase", name=r.check,
                                 classname=f"conformance.{report.plugin}", time=f"{r.seconds:.3f}")
            if r.outcome is Outcome.FAILED:
                failure = ET.SubElement(case, "failure", message=r.message, type="conformance")
                failure.text = "\n\n".join(p for p in (r.message, r.detail) if p)
            elif r.outcome is Outcome.SKIPPED:
                ET.SubElement(case, "skipped", message=r.message)
            elif r.message:
                ET.SubElement(case, "system-out").text = r.message
        totals["tests"] += len(report.results)
        totals["failures"] += report.count(Outcome.FAILED)
        totals["skipped"] += report.count(Outcome.SKIPPED)
        seconds += report.seconds
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("errors", "0")
    root.set("time", f"{seconds:.3f}")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
