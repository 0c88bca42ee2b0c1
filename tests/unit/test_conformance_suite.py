"""The suite's runner with fake checks and a fake manager: order, timeouts, kill, reports."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

from rich.console import Console

from cjm_docker import labels
from cjm_docker.conformance import (
    Check,
    CheckFailed,
    CheckSkipped,
    ConformanceContext,
    Outcome,
    PluginState,
    junit_xml,
    render_table,
    run_checks,
    summary_line,
)
from cjm_docker.conformance.checks import default_checks
from cjm_docker.engine_types import ContainerState
from cjm_docker.spec.plugins_file import SampleCall
from tests.fakes.engine import FakeEngine

#: A container the session left behind (the labels the suite looks for).
LEFTOVER = ContainerState(id="c1", name="cjm-p", status="running", running=True, exit_code=None,
                          oom_killed=False, labels={labels.MANAGED: "true", labels.SESSION: "s1"})


class FakeProxy:
    def __init__(self):
        self.killed = threading.Event()
        self.cancelled = False

    def cancel(self):
        self.cancelled = True
        return True

    def kill(self):
        self.killed.set()


def context(tmp_path: Path) -> ConformanceContext:
    manager = SimpleNamespace(engine=FakeEngine(), session="s1", plugins={},
                              config=SimpleNamespace(exchange_dir=tmp_path / "exchange"))
    meta = SimpleNamespace(name="p", instance=None, manifest={})
    ctx = ConformanceContext(manager, meta, [])  # type: ignore[arg-type]
    return ctx


class Start(Check):
    name = "start"
    needs_live_plugin = False

    def run(self, ctx):
        ctx.adopt(FakeProxy())
        return "up"


class Hang(Check):
    name = "hang"
    timeout = 0.2

    def run(self, ctx):
        ctx.proxy.killed.wait(10)   # ends only once the runner removes the container
        raise CheckFailed("the connection dropped")


class Fails(Check):
    name = "fails"

    def run(self, ctx):
        raise CheckFailed("wrong answer", detail="traceback here")


class Skips(Check):
    name = "skips"

    def run(self, ctx):
        raise CheckSkipped("nothing declared")


class Broken(Check):
    name = "broken"

    def run(self, ctx):
        raise KeyError("oops")


class Final(Check):
    name = "final"
    needs_live_plugin = False

    def run(self, ctx):
        return f"state {ctx.state.value}"


def test_outcomes_in_order(tmp_path):
    ctx = context(tmp_path)
    seen = []
    report = run_checks(ctx, [Start(), Fails(), Skips(), Broken(), Final()],
                        listener=lambda plugin, r: seen.append((plugin, r.check)))
    assert [(r.check, r.outcome) for r in report.results] == [
        ("start", Outcome.PASSED), ("fails", Outcome.FAILED), ("skips", Outcome.SKIPPED),
        ("broken", Outcome.FAILED), ("final", Outcome.PASSED)]
    assert report.results[1].detail == "traceback here"
    assert "KeyError" in report.results[3].message
    assert seen[0] == ("p", "start") and not report.passed
    assert ctx.state is PluginState.KILLED   # the runner's final kill: nothing stays running


def test_timeout_kills_the_container_and_skips_live_checks(tmp_path):
    ctx = context(tmp_path)
    report = run_checks(ctx, [Start(), Hang(), Skips(), Final()])
    hang = report.results[1]
    assert hang.outcome is Outcome.FAILED and "did not finish within 0.2 s" in hang.message
    assert report.results[2].outcome is Outcome.SKIPPED
    assert "after hang timed out" in report.results[2].message
    assert report.results[3].message == "state killed"
    assert ctx.killed_by == "hang" and "p" not in ctx.manager.plugins


def test_leftover_containers_of_the_session_are_removed(tmp_path):
    ctx = context(tmp_path)
    ctx.manager.engine.containers["c1"] = LEFTOVER
    run_checks(ctx, [Final()])
    assert ctx.manager.engine.removed == ["c1"]


def test_leftovers_check_names_containers_and_exchange_files(tmp_path):
    from cjm_docker.conformance.checks import LeftoversCheck

    ctx = context(tmp_path)
    ctx.manager.engine.containers["c1"] = LEFTOVER
    (tmp_path / "exchange").mkdir()

    class Litter(Check):
        name = "litter"
        needs_live_plugin = False

        def run(self, ctx):
            (tmp_path / "exchange" / "abc-input.wav").write_text("x")
            return ""

    report = run_checks(ctx, [Litter(), LeftoversCheck()])
    message = report.results[1].message
    assert "container cjm-p (running)" in message and "exchange file abc-input.wav" in message


def test_default_checks_order():
    samples = [SampleCall(name="a"), SampleCall(name="b", stream=True)]
    labels = [c.label for c in default_checks(samples)]
    assert labels == ["health", "config-schema", "initialize", "config-round-trip", "sample:a",
                      "stream:b", "progress", "cancel", "cleanup", "no-leftovers"]
    assert "streaming" in [c.label for c in default_checks([SampleCall()])]


def test_junit_and_table(tmp_path):
    report = run_checks(context(tmp_path), [Start(), Fails(), Skips(), Final()])
    root = ET.fromstring(junit_xml([report]))
    assert root.get("tests") == "4" and root.get("failures") == "1" and root.get("skipped") == "1"
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == "p"
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    failure = cases["fails"].find("failure")
    assert failure is not None and failure.get("message") == "wrong answer"
    assert "traceback here" in (failure.text or "")
    assert cases["skips"].find("skipped") is not None
    console = Console(record=True, width=120)
    console.print(render_table(report))
    text = console.export_text()
    assert "FAIL" in text and "wrong answer" in text and "FAILED" in text
    assert summary_line(report).startswith("p: FAILED (2 passed, 1 failed, 1 skipped")
