"""`cjm-ctl ci-matrix` and the workflow that consumes it (structure checked here; actionlint
and SchemaStore's workflow schema where installed)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cjm_docker.cli.app import app
from cjm_docker.conformance import ci_matrix
from cjm_docker.spec.plugins_file import PluginEntry

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / ".github" / "workflows" / "plugins.yml"


def entry(**fields) -> PluginEntry:
    return PluginEntry.model_validate({"package": "pkg", **fields})


def test_matrix_defaults_one_job_per_plugin():
    matrix = ci_matrix([entry(name="a", python_version="3.10"), entry(name="b")])
    assert matrix == {"include": [
        {"plugin": "a", "python": "3.11", "runs_on": "ubuntu-latest", "image_python": "3.10"},
        {"plugin": "b", "python": "3.11", "runs_on": "ubuntu-latest", "image_python": ""}]}


def test_matrix_expands_declared_pythons_and_runners():
    matrix = ci_matrix([entry(name="a", ci={"python": ["3.10", "3.12"],
                                            "runs_on": ["ubuntu-22.04", "ubuntu-24.04"]})])
    combos = {(j["python"], j["runs_on"]) for j in matrix["include"]}
    assert combos == {("3.10", "ubuntu-22.04"), ("3.10", "ubuntu-24.04"),
                      ("3.12", "ubuntu-22.04"), ("3.12", "ubuntu-24.04")}


def test_ci_matrix_command(tmp_path):
    out = tmp_path / "github_output"
    result = CliRunner().invoke(app, ["ci-matrix", "--plugins", str(REPO / "plugins.yaml"),
                                      "--github-output", str(out)])
    assert result.exit_code == 0, result.output
    matrix = json.loads(result.stdout.strip())
    assert [j["plugin"] for j in matrix["include"]] == ["echo", "fileinfo"]
    line = out.read_text().strip()
    assert line.startswith("matrix=") and json.loads(line.removeprefix("matrix=")) == matrix


def workflow() -> dict:
    doc = yaml.safe_load(WORKFLOW.read_text())
    doc["on"] = doc.pop(True, doc.get("on"))   # YAML 1.1 reads the key `on` as true
    return doc


def test_workflow_structure():
    doc = workflow()
    assert {"push", "pull_request"} <= set(doc["on"])
    jobs = doc["jobs"]
    assert set(jobs) == {"matrix", "test"}
    matrix_job, test_job = jobs["matrix"], jobs["test"]
    assert matrix_job["outputs"]["matrix"] == "${{ steps.matrix.outputs.matrix }}"
    step = next(s for s in matrix_job["steps"] if s.get("id") == "matrix")
    assert "cjm-ctl ci-matrix" in step["run"] and "$GITHUB_OUTPUT" in step["run"]
    assert test_job["needs"] == "matrix"
    assert test_job["strategy"]["matrix"] == "${{ fromJSON(needs.matrix.outputs.matrix) }}"
    assert test_job["strategy"]["fail-fast"] is False
    runs = " ".join(s.get("run", "") for s in test_job["steps"])
    assert "cjm-ctl setup-runtime" in runs and "cjm-ctl test" in runs and "--junit" in runs
    uses = [s.get("uses", "") for s in test_job["steps"]]
    assert any(u.startswith("actions/setup-python@") for u in uses)
    upload = next(s for s in test_job["steps"] if s.get("uses", "").startswith(
        "actions/upload-artifact@"))
    assert upload["if"] == "always()"


def test_workflow_matrix_keys_are_the_ones_ci_matrix_emits():
    used = set(re.findall(r"\bmatrix\.([a-z_]+)", WORKFLOW.read_text())) - {"outputs"}
    emitted = set(ci_matrix([entry(name="a")])["include"][0])
    assert used and used <= emitted, used - emitted


def test_workflow_every_step_is_well_formed():
    for name, job in workflow()["jobs"].items():
        assert "runs-on" in job, name
        for step in job["steps"]:
            assert ("uses" in step) != ("run" in step), (name, step)
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), step["uses"]


@pytest.mark.skipif(shutil.which("actionlint") is None, reason="actionlint is not installed")
def test_actionlint():
    proc = subprocess.run(["actionlint", str(WORKFLOW)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.skipif(shutil.which("check-jsonschema") is None,
                    reason="check-jsonschema is not installed")
def test_workflow_schema():
    proc = subprocess.run(["check-jsonschema", "--builtin-schema", "vendor.github-workflows",
                           str(WORKFLOW)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
