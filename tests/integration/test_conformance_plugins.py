"""`cjm-ctl test` against real containers: the examples conform, and each deliberately broken
plugin fails with the check that names what is wrong. Every container is removed by label."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from cjm_docker import labels
from cjm_docker.conformance import Outcome, Timeouts, run_conformance
from cjm_docker.spec.plugins_file import load_plugins_file
from tests.integration.conftest import EXAMPLES_YAML, REPO, run_ctl, unloading

pytestmark = pytest.mark.integration

BROKEN_YAML = REPO / "examples" / "broken" / "plugins.yaml"


@pytest.fixture(scope="module")
def broken_plugins(base_images, data_dir) -> Path:
    run_ctl("install-all", "--plugins", str(BROKEN_YAML), data_dir=data_dir)
    return data_dir / "manifests"


@pytest.fixture
def conformance_manager(cjm_config, engine) -> Iterator:
    from cjm_docker.host.manager import PluginManager

    mgr = PluginManager(search_paths=[cjm_config.manifests_dir], config=cjm_config, engine=engine)
    with unloading(mgr, engine):
        yield mgr


def ctl_test(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    """`cjm-ctl test ...` in a subprocess, through the real entry point."""
    return subprocess.run([sys.executable, "-m", "cjm_docker.cli.app", "test", *args],
                          capture_output=True,
                          text=True, env={**os.environ, "CJM_DATA_DIR": str(data_dir)},
                          timeout=1200, cwd=REPO)


def samples(path: Path, name: str):
    return next(e for e in load_plugins_file(path).plugins if e.name == name).samples


@pytest.mark.parametrize("name", ["echo", "fileinfo"])
def test_examples_conform(example_plugins, conformance_manager, engine, name):
    report = run_conformance(conformance_manager, name, samples(EXAMPLES_YAML, name))
    assert report.passed, [(r.check, r.message) for r in report.failures]
    checks = [r.check for r in report.results]
    assert checks[:4] == ["health", "config-schema", "initialize", "config-round-trip"]
    assert checks[-2:] == ["cleanup", "no-leftovers"]
    assert all(r.outcome is Outcome.PASSED for r in report.results)
    assert engine.list_containers({labels.SESSION: conformance_manager.session}) == []


@pytest.mark.parametrize("name,check,words", [
    ("broken-schema", "config-schema", "'integr' is not valid"),
    ("broken-init", "initialize", "model weights not found"),
    ("broken-stream", "stream:words", "did not finish within 5 s"),
    ("broken-result", "sample:shout", "cannot cross the wire"),
])
def test_broken_plugins_fail_the_named_check(broken_plugins, conformance_manager, engine,
                                             name, check, words):
    report = run_conformance(conformance_manager, name, samples(BROKEN_YAML, name),
                             timeouts=Timeouts(start=60))
    failed = {r.check: r.message for r in report.failures}
    assert list(failed) == [check], failed
    assert words in failed[check]
    no_leftovers = next(r for r in report.results if r.check == "no-leftovers")
    assert no_leftovers.outcome is Outcome.PASSED, no_leftovers.message
    assert engine.list_containers({labels.SESSION: conformance_manager.session}) == []


def test_cli_reports_and_exit_code(broken_plugins, example_plugins, data_dir, tmp_path):
    junit = tmp_path / "broken.xml"
    proc = ctl_test("broken-init", "broken-result", "--plugins", str(BROKEN_YAML),
                    "--junit", str(junit), data_dir=data_dir)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "cjm-broken-init: FAILED" in proc.stdout
    root = ET.parse(junit).getroot()
    assert [s.get("name") for s in root.findall("testsuite")] == ["cjm-broken-init",
                                                                  "cjm-broken-result"]
    assert root.get("failures") == "2"
    ok = ctl_test("echo", "--plugins", str(EXAMPLES_YAML), "--junit", str(tmp_path / "echo.xml"),
                  data_dir=data_dir)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ET.parse(tmp_path / "echo.xml").getroot().get("failures") == "0"
