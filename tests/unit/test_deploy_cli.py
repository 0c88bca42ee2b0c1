"""`cjm-ctl compose`, `up` and `down` through the real entry point (the docker CLIs faked)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from cjm_docker.deploy import orchestrators
from cjm_docker.manifest import Manifest, write_manifest


@pytest.fixture
def installed(tmp_path: Path) -> Path:
    """A data dir with two installed plugins and the plugins.yaml naming them."""
    data = tmp_path / "data"
    for name, spec in (("cjm-example-echo", "echo"), ("cjm-example-fileinfo", "fileinfo")):
        write_manifest(Manifest.model_validate({
            "name": name, "module": "m", "class": "C", "image": f"cjm-plugin/{spec}:1",
            "spec_name": spec}), data / "manifests")
    (tmp_path / "plugins.yaml").write_text(
        "plugins:\n  - {name: echo, package: ./e}\n  - {name: fileinfo, package: ./f}\n")
    return data


def test_compose_writes_the_deployment_folder(cjm_ctl, installed, tmp_path) -> None:
    out = tmp_path / "compose"
    result = cjm_ctl("--data-dir", str(installed), "compose", "--plugins",
                     str(tmp_path / "plugins.yaml"), "--out", str(out), "--no-check",
                     "--base-port", "19000", "--port", "fileinfo=19500", "--project", "lab")
    assert result.code == 0, result.text
    assert "cjm-example-echo" in result.out and "http://127.0.0.1:19000" in result.out
    doc = yaml.safe_load((out / "docker-compose.yml").read_text())
    assert doc["x-cjm"]["project"] == "lab"
    assert doc["services"]["cjm-example-fileinfo"]["ports"] == ["127.0.0.1:19500:8000"]
    assert (out / "secrets" / "cjm-example-echo.token").is_file()


def test_compose_only_some_and_bad_port_syntax(cjm_ctl, installed, tmp_path) -> None:
    out = tmp_path / "compose"
    result = cjm_ctl("--data-dir", str(installed), "compose", "--plugins",
                     str(tmp_path / "plugins.yaml"), "--out", str(out), "--no-check",
                     "--only", "fileinfo")
    assert result.code == 0, result.text
    assert list(yaml.safe_load((out / "docker-compose.yml").read_text())["services"]) == [
        "cjm-example-fileinfo"]
    bad = cjm_ctl("--data-dir", str(installed), "compose", "--plugins",
                  str(tmp_path / "plugins.yaml"), "--out", str(out), "--port", "echo:1")
    assert bad.code == 1 and "NAME=PORT" in bad.err
    missing = cjm_ctl("--data-dir", str(installed), "compose", "--out", str(out),
                      "--only", "ghost", "--no-check")
    assert missing.code == 1 and "install-all" in missing.err


def test_up_and_down_run_the_docker_clis(cjm_ctl, installed, tmp_path, monkeypatch) -> None:
    calls: list[tuple[str, Any]] = []
    monkeypatch.setattr(orchestrators, "compose_up", lambda b: calls.append(("up", b.project)))
    monkeypatch.setattr(orchestrators, "compose_down",
                        lambda b: calls.append(("down", b.project)))
    monkeypatch.setattr(orchestrators, "stack_deploy",
                        lambda b, stack: calls.append(("deploy", stack)))
    monkeypatch.setattr(orchestrators, "stack_remove", lambda stack: calls.append(("rm", stack)))
    out = tmp_path / "compose"
    args = ("--data-dir", str(installed))
    first = cjm_ctl(*args, "up", "--plugins", str(tmp_path / "plugins.yaml"), "--out",
                    str(out), "--no-wait")
    assert first.code == 0, first.text
    assert "attach_deployment" in first.out
    assert cjm_ctl(*args, "up", "--out", str(out), "--swarm", "--no-wait").code == 0
    assert cjm_ctl(*args, "down", "--out", str(out), "--swarm", "--stack", "other").code == 0
    assert cjm_ctl(*args, "down", "--out", str(out)).code == 0
    assert calls == [("up", "cjm"), ("deploy", "cjm"), ("rm", "other"), ("down", "cjm")]
    assert cjm_ctl(*args, "down", "--out", str(tmp_path / "nowhere")).code == 1


def test_compose_command_prefers_the_v2_plugin() -> None:
    class Done:
        def __init__(self, code: int):
            self.returncode = code

    assert orchestrators.compose_command(which=lambda n: f"/usr/bin/{n}",
                                         runner=lambda argv: Done(0)) == ["docker", "compose"]
    assert orchestrators.compose_command(which=lambda n: f"/usr/bin/{n}",
                                         runner=lambda argv: Done(1)) == ["docker-compose"]
    with pytest.raises(Exception, match="Neither"):
        orchestrators.compose_command(which=lambda n: None, runner=lambda argv: Done(1))
