"""Plugin conformance: does a plugin work in cjm-docker, checked against its real container.

    checks        the checks, each a name, a timeout and ``run(context)``
    context       what the checks of one plugin share (manager session, proxy, state)
    expectations  sample results against plugins.yaml's ``samples`` expectations
    suite         runs the checks in order under timeouts; always leaves nothing running
    report        rich table and JUnit XML
    matrix        the GitHub Actions matrix of ``cjm-ctl ci-matrix``
"""

from cjm_docker.conformance.checks import Check, CheckFailed, CheckSkipped, Timeouts, default_checks
from cjm_docker.conformance.context import ConformanceContext, PluginState
from cjm_docker.conformance.expectations import mismatches
from cjm_docker.conformance.matrix import ci_matrix
from cjm_docker.conformance.report import junit_xml, render_table, summary_line
from cjm_docker.conformance.results import CheckResult, Outcome, PluginReport
from cjm_docker.conformance.suite import run_checks, run_conformance

__all__ = [
    "Check", "CheckFailed", "CheckResult", "CheckSkipped", "ConformanceContext", "Outcome",
    "PluginReport", "PluginState", "Timeouts", "ci_matrix", "default_checks", "junit_xml",
    "mismatches", "render_table", "run_checks", "run_conformance", "summary_line",
]
