"""The plugin docs/plugins.md writes from nothing is built and passes `cjm-ctl test` on the
real engine; its .dockerignore keeps its scratch folder out of the image; `show` describes it;
a call that does not fit its parameters is refused before any container starts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cjm_docker import labels
from cjm_docker.engine import ContainerSpec
from tests.integration.conftest import REPO, run_ctl

pytestmark = [pytest.mark.integration, pytest.mark.slow]

GUIDE_YAML = REPO / "examples" / "plugins" / "cjm-example-wordcount" / "plugins.yaml"
NAME = "cjm-example-wordcount"


@pytest.fixture(scope="module")
def conformance(base_images, data_dir: Path) -> list[dict]:
    """`cjm-ctl test wordcount --json`: builds the plugin, runs the suite."""
    proc = run_ctl("test", "wordcount", "--plugins", str(GUIDE_YAML), "--json",
                   data_dir=data_dir, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def test_the_guide_plugin_passes_cjm_ctl_test(conformance: list[dict]) -> None:
    (report,) = conformance
    assert report["plugin"] == NAME and report["passed"]
    outcomes = {c["check"]: c["outcome"] for c in report["checks"]}
    assert outcomes["sample:count"] == outcomes["stream:per-line"] == "passed"
    assert outcomes["cancel"] == outcomes["cleanup"] == outcomes["no-leftovers"] == "passed"


def test_its_dockerignore_keeps_the_scratch_folder_out(conformance, data_dir: Path, engine) -> None:
    """Nowhere in the image (installed package, build leftovers) is the scratch folder's file,
    while the package itself is installed."""
    manifest = json.loads((data_dir / "manifests" / f"{NAME}.json").read_text())
    scratch_line = "Local scratch space: `.dockerignore` keeps this folder out"
    code, out, err = engine.run_once(ContainerSpec(
        image=manifest["image"], name=f"cjm-test-guide-{os.getpid()}",
        command=["sh", "-c", f"grep -rlF '{scratch_line}' /opt /tmp /home /root; "
                             "python -c 'import cjm_example_wordcount as m; print(m.__file__)'"],
        labels={labels.MANAGED: "true"}))
    assert "cjm_example_wordcount" in out, (out, err)
    assert "README.md" not in out and "scratch" not in out, out


def test_show_describes_parameters_config_and_image(conformance, data_dir: Path) -> None:
    doc = json.loads(run_ctl("show", "wordcount", "--json", "--plugins", str(GUIDE_YAML),
                             data_dir=data_dir).stdout)
    assert doc["name"] == NAME and doc["spec_name"] == "wordcount"
    assert [(p["name"], p["annotation"], p.get("default")) for p in doc["execute"]] == \
        [("text", "str", "''"), ("path", "str | None", "None")]
    assert doc["config"]["defaults"] == {"lowercase": True, "min_length": 1, "top": 5}
    assert doc["image"]["status"] == "present" and doc["image"]["action"] == ""
    human = run_ctl("show", NAME, data_dir=data_dir).stdout
    assert "execute(text: str = '', path: str | None = None)" in human
    assert "min_length" in human and "minimum 1; maximum 50" in human


def test_a_wrong_argument_is_refused_before_a_container_starts(conformance, data_dir: Path,
                                                                engine) -> None:
    def containers() -> list:
        return engine.list_containers({labels.PLUGIN: NAME})

    before = len(containers())
    proc = run_ctl("exec", "wordcount", "txt=hello", data_dir=data_dir, check=False)
    assert proc.returncode == 1
    message = " ".join(proc.stderr.split())
    assert "takes no argument named 'txt'. Did you mean 'text'?" in message
    assert "Traceback" not in proc.stderr
    assert len(containers()) == before
    ok = run_ctl("exec", "wordcount", "text=a b a", "--json", "-c", '{"top": 1}',
                 data_dir=data_dir)
    assert json.loads(ok.stdout) == {"words": 3, "distinct": 2, "top": [["a", 2]]}
