"""Either name of a plugin works in every command; `list` and `install-all` agree on what is
current, also after another data dir rebuilt the same content; the active docker context is
the engine `doctor` reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cjm_docker.engine_endpoint import context_id
from tests.integration.conftest import EXAMPLES_YAML, REPO, run_ctl, unloading

pytestmark = pytest.mark.integration


@pytest.fixture
def running_echo(example_plugins, cjm_config, engine):
    """The echo example loaded by a host: one running container."""
    from cjm_docker.host.manager import PluginManager

    manager = PluginManager(search_paths=[example_plugins], config=cjm_config, engine=engine)
    with unloading(manager, engine):
        manager.load_plugin("echo")   # the plugins.yaml name
        manager.execute_plugin("cjm-example-echo", text="hello-from-the-test")
        yield manager


@pytest.mark.parametrize("name", ["echo", "cjm-example-echo"])
def test_logs_and_ps_answer_to_either_name(running_echo, data_dir: Path, name: str) -> None:
    session = running_echo.session
    rows = json.loads(run_ctl("ps", name, "--json", data_dir=data_dir).stdout)
    mine = [r for r in rows if r["session"] == session]
    assert len(mine) == 1 and mine[0]["plugin"] == "cjm-example-echo"
    assert mine[0]["spec_name"] == "echo" and mine[0]["owner_alive"] is True
    logs = run_ctl("logs", name, "-n", "200", data_dir=data_dir)
    assert logs.returncode == 0 and logs.stdout.strip()


def test_a_near_miss_is_suggested(running_echo, data_dir: Path) -> None:
    proc = run_ctl("logs", "ech", data_dir=data_dir, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    message = " ".join(proc.stderr.split())
    # Other hosts' containers may be listed too (a shared engine); echo is the first guess.
    assert "No plugin named 'ech' has a container. Did you mean 'echo'" in message


def test_an_identical_rebuild_elsewhere_leaves_this_data_dir_current(example_plugins,
                                                                      data_dir: Path,
                                                                      tmp_path: Path) -> None:
    def status() -> dict[str, dict]:
        rows = json.loads(run_ctl("list", "--json", "--plugins", str(EXAMPLES_YAML),
                                  data_dir=data_dir).stdout)
        return {r["spec_name"]: r for r in rows}

    assert status()["echo"]["status"] == "present"
    # Another data dir rebuilds the same inputs: the tag is committed again (a new image id).
    run_ctl("install-all", "--plugins", str(EXAMPLES_YAML), "-p", "echo", "--force",
            data_dir=tmp_path / "other")
    other = json.loads((tmp_path / "other" / "manifests" / "cjm-example-echo.json").read_text())
    mine = json.loads((data_dir / "manifests" / "cjm-example-echo.json").read_text())
    assert other["image"] == mine["image"] and other["image_id"] != mine["image_id"]
    row = status()["echo"]
    assert row["status"] == "present", row
    again = run_ctl("install-all", "--plugins", str(EXAMPLES_YAML), "-p", "echo",
                    data_dir=data_dir)
    assert "up to date: echo" in again.stdout and "0 built" in again.stdout


def _doctor(env: dict[str, str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"} | env | {
        "CJM_DATA_DIR": str(data_dir)}
    return subprocess.run([sys.executable, "-m", "cjm_docker.cli.app", "doctor", "--json"],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=300)


def _context(config_dir: Path, name: str, host: str) -> None:
    meta = config_dir / "contexts" / "meta" / context_id(name)
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps({"Name": name, "Metadata": {},
                                                "Endpoints": {"docker": {"Host": host}}}))
    (config_dir / "config.json").write_text(json.dumps({"currentContext": name}))


def test_doctor_reaches_the_engine_of_the_active_docker_context(tmp_path: Path) -> None:
    if os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock") != "unix:///var/run/docker.sock":
        pytest.skip("this engine is not on the local socket")
    _context(tmp_path / "good", "cjm-test-context", "unix:///var/run/docker.sock")
    proc = _doctor({"DOCKER_CONFIG": str(tmp_path / "good")}, tmp_path / "data")
    engine = next(r for r in json.loads(proc.stdout) if r["check"] == "engine")
    assert engine["status"] == "ok", engine
    assert "docker context 'cjm-test-context'" in engine["detail"]

    _context(tmp_path / "bad", "cjm-test-nowhere", f"unix://{tmp_path}/no-engine.sock")
    proc = _doctor({"DOCKER_CONFIG": str(tmp_path / "bad")}, tmp_path / "data")
    assert proc.returncode == 1
    engine = next(r for r in json.loads(proc.stdout) if r["check"] == "engine")
    assert engine["status"] == "fail" and "no-engine.sock" in engine["detail"]
    assert "docker context 'cjm-test-nowhere'" in engine["detail"]

    # DOCKER_HOST wins over the context, as with the docker CLI.
    proc = _doctor({"DOCKER_CONFIG": str(tmp_path / "bad"),
                    "DOCKER_HOST": "unix:///var/run/docker.sock"}, tmp_path / "data")
    engine = next(r for r in json.loads(proc.stdout) if r["check"] == "engine")
    assert engine["status"] == "ok" and "DOCKER_HOST" in engine["detail"]
