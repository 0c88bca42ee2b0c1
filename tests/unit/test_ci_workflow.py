"""The project's own workflow (.github/workflows/ci.yml) and `.ci/run`, checked the way the
plugin workflow is (tests/unit/test_conformance_matrix.py): structure here, SchemaStore's
workflow schema through check-jsonschema (a dev dependency, schema vendored: no network), and
actionlint whenever it is on PATH."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
CI = WORKFLOWS / "ci.yml"


def workflow(path: Path = CI) -> dict:
    doc = yaml.safe_load(path.read_text())
    doc["on"] = doc.pop(True, doc.get("on"))   # YAML 1.1 reads the key `on` as true
    return doc


def runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_triggers_and_jobs():
    doc = workflow()
    assert {"push", "pull_request"} <= set(doc["on"])
    assert set(doc["jobs"]) == {"lint", "unit", "integration"}
    assert doc["permissions"] == {"contents": "read"}


def test_lint_job_runs_ruff_and_mypy_on_the_package():
    commands = runs(workflow()["jobs"]["lint"])
    assert "ruff check ." in commands
    assert "mypy cjm_docker" in commands


def test_unit_tests_run_on_every_supported_python():
    job = workflow()["jobs"]["unit"]
    pythons = job["strategy"]["matrix"]["python"]
    assert pythons == ["3.10", "3.11", "3.12", "3.13"]
    assert job["strategy"]["fail-fast"] is False
    setup = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python@"))
    assert setup["with"]["python-version"] == "${{ matrix.python }}"
    assert "pytest tests/unit" in runs(job)
    requires = re.search(r'requires-python = ">=(\d+\.\d+)"', (REPO / "pyproject.toml").read_text())
    assert requires and pythons[0] == requires.group(1)


def test_integration_job_runs_the_readme_test_command_on_docker_tiers():
    job = workflow()["jobs"]["integration"]
    assert job["runs-on"].startswith("ubuntu")   # GitHub's Linux runners have a Docker engine
    assert job["timeout-minutes"] <= 90
    command = runs(job)
    assert re.search(r"^scripts/test tests/integration tests/reliability\b", command, re.M)


def test_ci_run_calls_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    assert re.search(r"^scripts/test\s", readme, re.M), "the README's test command moved"
    lines = [line for line in (REPO / ".ci" / "run").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines[-1].startswith("scripts/test"), lines[-1]


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yml")), ids=lambda p: p.name)
def test_every_step_is_well_formed(path: Path):
    for name, job in workflow(path)["jobs"].items():
        assert "runs-on" in job, name
        if path == CI:
            assert "timeout-minutes" in job, name
        for step in job["steps"]:
            assert ("uses" in step) != ("run" in step), (name, step)
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), step["uses"]


def _check_jsonschema() -> list[str] | None:
    exe = shutil.which("check-jsonschema") or shutil.which(
        "check-jsonschema", path=str(Path(sys.executable).parent))
    return [exe] if exe else None


@pytest.mark.skipif(_check_jsonschema() is None, reason="check-jsonschema is not installed")
@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yml")), ids=lambda p: p.name)
def test_workflows_match_schemastore_schema(path: Path):
    command = [*(_check_jsonschema() or []), "--builtin-schema", "vendor.github-workflows",
               str(path)]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.skipif(shutil.which("actionlint") is None, reason="actionlint is not installed")
@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yml")), ids=lambda p: p.name)
def test_actionlint(path: Path):
    proc = subprocess.run(["actionlint", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
