"""`cjm-ctl` as users get it: a wheel of this project installed into a fresh venv (not editable,
so package data missing from the wheel shows), every command the README names answers --help,
and the cheap ones run for real against a test data dir.

One venv per test session; pip's cache keeps the dependency install short on a second run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest
import yaml

from cjm_docker.manifest import Manifest, write_manifest
from tests.fixtures.doc_blocks import readme_commands

REPO = Path(__file__).resolve().parents[2]


class InstalledCli:
    """The `cjm-ctl` of a venv that holds only the built wheel and its dependencies."""

    def __init__(self, root: Path, data_dir: Path) -> None:
        self.bin = root / "bin"
        self.data_dir = data_dir

    def run(self, *args: str, cwd: Path = REPO, timeout: float = 120,
            ) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("CJM_", "VIRTUAL_ENV", "PYTHON"))}
        env.update(CJM_DATA_DIR=str(self.data_dir), COLUMNS="200", PATH=f"{self.bin}:{env.get('PATH', '')}")
        return subprocess.run([str(self.bin / "cjm-ctl"), *args], capture_output=True, text=True,
                              cwd=cwd, env=env, timeout=timeout)

    def ok(self, *args: str, **kwargs) -> str:
        proc = self.run(*args, **kwargs)
        assert proc.returncode == 0, (f"cjm-ctl {' '.join(args)} exited {proc.returncode}:\n"
                                      f"{proc.stdout}\n{proc.stderr}")
        return proc.stdout


def _pip(python: Path, *args: str) -> None:
    proc = subprocess.run([str(python), "-m", "pip", "--disable-pip-version-check", *args],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"pip {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"


@pytest.fixture(scope="session")
def installed_cli(tmp_path_factory) -> InstalledCli:
    work = tmp_path_factory.mktemp("wheel")
    _pip(Path(sys.executable), "wheel", "--no-deps", "--wheel-dir", str(work / "dist"), str(REPO))
    wheel = next((work / "dist").glob("cjm_docker-*.whl"))
    root = work / "venv"
    venv.EnvBuilder(with_pip=True).create(root)
    _pip(root / "bin" / "python", "install", str(wheel))
    return InstalledCli(root, tmp_path_factory.mktemp("wheel-data"))


def test_the_wheel_ships_package_data_and_type_information(installed_cli):
    code = ("import cjm_docker, pathlib; from cjm_docker.images import runtime; "
            "p = pathlib.Path(cjm_docker.__file__).parent; "
            "print(p, runtime.templates_dir(), runtime.images_dir(), (p / 'py.typed').is_file())")
    proc = subprocess.run([str(installed_cli.bin / "python"), "-c", code], capture_output=True,
                          text=True, cwd="/", check=True)
    package, templates, images, typed = proc.stdout.split()
    assert "site-packages" in package, "the venv imported the source tree, not the wheel"
    assert Path(templates).is_relative_to(package) and Path(images).is_relative_to(package)
    assert {"Dockerfile.python.j2", "Dockerfile.micromamba.j2"} <= {
        p.name for p in Path(templates).iterdir()}
    assert typed == "True", "py.typed is missing from the wheel"


@pytest.mark.parametrize("command", sorted(readme_commands()))
def test_every_readme_command_answers_help(installed_cli, command):
    assert "Usage: cjm-ctl" in installed_cli.ok(command, "--help")


def test_cheap_commands_run_for_real(installed_cli, tmp_path):
    cli = installed_cli
    schema = json.loads(cli.ok("schema"))
    assert "plugins" in schema["properties"]
    dockerfile = cli.ok("render", "echo", "--plugins", str(REPO / "plugins.yaml"))
    assert "FROM " in dockerfile and 'image of plugin "echo"' in dockerfile
    runtime = cli.ok("render", "echo", "--runtime", "--plugins", str(REPO / "plugins.yaml"))
    assert "FROM " in runtime and "cjm_docker" in runtime   # the worker runtime, shared
    matrix = json.loads(cli.ok("ci-matrix", "--plugins", str(REPO / "plugins.yaml")))
    assert [job["plugin"] for job in matrix["include"]] == ["echo", "fileinfo"]
    assert "engine" in cli.ok("doctor")


def test_list_and_compose_see_an_installed_manifest(installed_cli, tmp_path):
    assert "No plugins installed" in installed_cli.ok("list")
    write_manifest(Manifest.model_validate({
        "name": "cjm-example-echo", "module": "m", "class": "C", "image": "cjm-plugin/echo:1",
        "spec_name": "echo"}), installed_cli.data_dir / "manifests")
    assert "cjm-example-echo" in installed_cli.ok("list")
    (tmp_path / "plugins.yaml").write_text("plugins:\n  - {name: echo, package: ./e}\n")
    installed_cli.ok("compose", "--plugins", "plugins.yaml", "--out", "deployment",
                     cwd=tmp_path)
    compose = yaml.safe_load((tmp_path / "deployment" / "docker-compose.yml").read_text())
    assert list(compose["services"]) == ["cjm-example-echo"]
