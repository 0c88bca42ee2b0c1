"""The worker's command line: flags, environment fallbacks, token handling, import hygiene."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cjm_docker import envvars
from cjm_docker.worker.__main__ import parse_args, read_token
from tests.fixtures.worker_harness import REPO_ROOT

WORKER_VARS = (envvars.WORKER_MODULE, envvars.WORKER_CLASS, envvars.WORKER_SOCKET,
               envvars.WORKER_PORT, envvars.WORKER_TOKEN_FILE, envvars.WORKER_LEASE_FILE,
               envvars.WORKER_LEASE_TIMEOUT)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in WORKER_VARS:
        monkeypatch.delenv(name, raising=False)


def test_flags() -> None:
    args = parse_args(["--module", "m", "--class", "C", "--socket", "/s", "--token-file", "/t",
                       "--lease-file", "/l", "--lease-timeout", "7", "--log-file", "/log",
                       "--grace", "1.5"])
    assert (args.module, args.class_name, args.socket, args.port) == ("m", "C", "/s", None)
    assert (args.token_file, args.lease_file, args.lease_timeout) == ("/t", "/l", 7.0)
    assert (args.log_file, args.grace, args.host) == ("/log", 1.5, "127.0.0.1")


def test_everything_can_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ((envvars.WORKER_MODULE, "m"), (envvars.WORKER_CLASS, "C"),
                        (envvars.WORKER_PORT, "8123"), (envvars.WORKER_TOKEN_FILE, "/t"),
                        (envvars.WORKER_LEASE_FILE, "/l"), (envvars.WORKER_LEASE_TIMEOUT, "9")):
        monkeypatch.setenv(name, value)
    args = parse_args([])
    assert (args.module, args.class_name, args.port, args.socket) == ("m", "C", 8123, None)
    assert (args.token_file, args.lease_file, args.lease_timeout, args.grace) == (
        "/t", "/l", 9.0, 3.0)


def test_flags_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(envvars.WORKER_SOCKET, "/env.sock")
    monkeypatch.setenv(envvars.WORKER_MODULE, "env_module")
    args = parse_args(["--module", "m", "--class", "C", "--port", "1", "--token-file", "/t"])
    assert (args.module, args.port, args.socket) == ("m", 1, None)


@pytest.mark.parametrize("argv", [
    ["--class", "C", "--socket", "/s", "--token-file", "/t"],              # no module
    ["--module", "m", "--class", "C", "--token-file", "/t"],              # nowhere to listen
    ["--module", "m", "--class", "C", "--socket", "/s"],                   # no token file
    ["--module", "m", "--class", "C", "--socket", "/s", "--port", "1", "--token-file", "/t"],
    ["--module", "m", "--class", "C", "--socket", "/s", "--token-file", "/t",
     "--lease-timeout", "0"],
])
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        parse_args(argv)
    assert caught.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_read_token(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("  s3cret\n")
    assert read_token(str(tmp_path / "token")) == "s3cret"
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ValueError, match="is empty"):
        read_token(str(tmp_path / "empty"))
    with pytest.raises(ValueError, match="cannot read the token file"):
        read_token(str(tmp_path / "missing"))


@pytest.mark.parametrize("content", [None, ""])
def test_a_missing_or_empty_token_file_exits_2(tmp_path: Path, content: str | None) -> None:
    token = tmp_path / "token"
    if content is not None:
        token.write_text(content)
    done = subprocess.run(
        [sys.executable, "-m", "cjm_docker.worker", "--module", "m", "--class", "C",
         "--socket", str(tmp_path / "s.sock"), "--token-file", str(token)],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=30)
    assert done.returncode == 2
    assert "token file" in done.stderr


def test_the_worker_imports_none_of_the_host_dependencies() -> None:
    script = (
        "import sys\n"
        "import cjm_docker.worker.__main__, cjm_docker.worker.app, cjm_docker.worker.server\n"
        "banned = ['docker', 'httpx', 'typer', 'rich', 'yaml', 'jinja2', 'cjm_docker.config',\n"
        "          'numpy', 'jsonschema']\n"
        "print([name for name in banned if name in sys.modules])\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
