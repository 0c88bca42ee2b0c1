"""Run the checks against one plugin, in order, each under its own timeout.

A check that overruns fails by timeout; the plugin's container is then removed at once (a
stream that never ends holds it), the checks that need a live plugin are skipped, and the
leftovers check still runs. Whatever happens, nothing of the run's session stays running.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

from cjm_docker import labels
from cjm_docker.conformance.checks import (
    Check,
    CheckFailed,
    CheckSkipped,
    Timeouts,
    default_checks,
)
from cjm_docker.conformance.context import ConformanceContext, exchange_files
from cjm_docker.conformance.results import CheckResult, Outcome, PluginReport
from cjm_docker.errors import CjmDockerError
from cjm_docker.host.manager import PluginManager
from cjm_docker.metadata import PluginMeta
from cjm_docker.spec.plugins_file import SampleCall

# After a timeout: how long a cancelled call gets to stop before its container is removed.
CANCEL_GRACE = 2.0

Listener = Callable[[str, CheckResult], None]


def _run_with_timeout(check: Check, ctx: ConformanceContext) -> tuple[Outcome, str, str]:
    box: dict[str, tuple[Outcome, str, str]] = {}

    def target() -> None:
        try:
            box["r"] = (Outcome.PASSED, check.run(ctx) or "", "")
        except CheckSkipped as exc:
            box["r"] = (Outcome.SKIPPED, str(exc), "")
        except CheckFailed as exc:
            box["r"] = (Outcome.FAILED, str(exc), exc.detail)
        except CjmDockerError as exc:
            box["r"] = (Outcome.FAILED, str(exc), "")
        except Exception as exc:  # a check's own defect must not end the run
            box["r"] = (Outcome.FAILED, f"{type(exc).__name__}: {exc}", "")

    # A daemon thread: a call that never returns cannot keep the process alive.
    worker = threading.Thread(target=target, name=f"conformance-{check.label}", daemon=True)
    worker.start()
    worker.join(check.timeout)
    if worker.is_alive():
        _stop_stuck_call(ctx, check, worker)
        return (Outcome.FAILED, f"did not finish within {check.timeout:g} s; the container "
                                "was removed", "")
    return box.get("r", (Outcome.FAILED, "the check ended without a verdict", ""))


def _stop_stuck_call(ctx: ConformanceContext, check: Check, worker: threading.Thread) -> None:
    """Cancel the stuck call, then remove the container whatever the plugin does."""
    if ctx.proxy is not None:
        with contextlib.suppress(CjmDockerError):
            ctx.proxy.cancel()
    worker.join(CANCEL_GRACE)
    ctx.kill(check.label)   # even when the call stopped: the check failed by timeout
    worker.join(CANCEL_GRACE)


def run_checks(ctx: ConformanceContext, checks: list[Check],
               listener: Listener | None = None) -> PluginReport:
    """Run ``checks`` in order against ``ctx``'s plugin; the container is gone afterwards."""
    report = PluginReport(ctx.name)
    ctx.exchange_before = exchange_files(ctx.manager.config.exchange_dir)
    try:
        for check in checks:
            started = time.perf_counter()
            if check.needs_live_plugin and not ctx.state.live:
                why = f"the container was removed after {ctx.killed_by} timed out" \
                    if ctx.killed_by else f"the plugin is {ctx.state.value}"
                outcome, message, detail = Outcome.SKIPPED, why, ""
            else:
                outcome, message, detail = _run_with_timeout(check, ctx)
            result = CheckResult(check.label, outcome, time.perf_counter() - started,
                                 message, detail)
            report.results.append(result)
            if listener is not None:
                listener(ctx.name, result)
    finally:
        ctx.kill("the end of the run")   # a no-op when cleanup ran
        for state in ctx.manager.engine.list_containers({labels.MANAGED: "true",
                                                         labels.SESSION: ctx.manager.session}):
            ctx.manager.engine.remove_container(state.id, force=True)
    return report


def run_conformance(manager: PluginManager, plugin: PluginMeta | str,
                    samples: list[SampleCall] | None = None, *, timeouts: Timeouts | None = None,
                    listener: Listener | None = None) -> PluginReport:
    """The whole suite against one plugin of ``manager`` (by manifest or plugins.yaml name).

    Raises:
        UnknownPluginError: no manifest for ``plugin``.
    """
    if isinstance(plugin, str):
        if not manager.discovered:
            manager.discover_manifests()
        meta = manager.get_discovered_meta(plugin)
        if meta is None:
            raise manager.unknown(plugin)
    else:
        meta = plugin
    samples = list(samples or [])
    ctx = ConformanceContext(manager, meta, samples)
    return run_checks(ctx, default_checks(samples, timeouts), listener)
