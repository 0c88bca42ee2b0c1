"""Every command, driven with malformed values: one clear paragraph, a non-zero exit, no
traceback (only --debug shows one), and the engine never asked."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from cjm_docker import config as config_module
from cjm_docker import engine as engine_module
from cjm_docker.cli.app import INTERNAL_ERROR

PLUGINS_YAML = "plugins:\n  - name: echo\n    package: ok-plugin\n"
SIGNATURE = {"parameters": [
    {"name": "text", "kind": "POSITIONAL_OR_KEYWORD", "default": "''", "annotation": "str"},
    {"name": "sleep", "kind": "POSITIONAL_OR_KEYWORD", "default": "0.0", "annotation": "float"}]}
MANIFEST = {"name": "cjm-example-echo", "spec_name": "echo", "module": "m", "class": "C",
            "image": "cjm-plugin/echo:0123456789abcdef",
            "config_schema": {"type": "object", "properties": {
                "repeat": {"type": "integer", "default": 1, "minimum": 1}}},
            "signatures": {"execute": SIGNATURE}}


@dataclass(frozen=True)
class Bad:
    args: tuple[str, ...]
    expect: tuple[str, ...] = ()     # fragments of the message
    usage: bool = False              # click's usage error (exit 2), not ours


CASES = {
    "exec-config-not-json": Bad(("exec", "echo", "--config", "{repeat: 2}"),
                                ("--config '{repeat: 2}' is not valid JSON", "double-quoted")),
    "exec-config-list": Bad(("exec", "echo", "--config", "[1]"), ("must be a JSON object", "list")),
    "exec-config-string": Bad(("exec", "echo", "-c", '"x"'), ("not a string",)),
    "exec-config-schema": Bad(("exec", "echo", "-c", '{"repeat": 0}'),
                              ("Config for plugin 'cjm-example-echo' is invalid", "repeat",
                               "cjm-ctl show cjm-example-echo")),
    "exec-config-unknown-key": Bad(("exec", "echo", "-c", '{"repeet": 2}'),
                                   ("unknown key 'repeet' (did you mean 'repeat'? known: repeat)",)),
    "exec-unknown-plugin": Bad(("exec", "ech", "text=hi"),
                               ("No plugin named 'ech'", "Did you mean 'echo'?",
                                "Known: cjm-example-echo, echo")),
    "exec-unknown-argument": Bad(("exec", "echo", "txt=hi"),
                                 ("takes no argument named 'txt'", "Did you mean 'text'?",
                                  "execute(text: str = '', sleep: float = 0.0)")),
    "exec-wrong-type": Bad(("exec", "cjm-example-echo", "sleep=abc"),
                           ("argument 'sleep' must be float",)),
    "exec-too-many": Bad(("exec", "echo", "a", "1", "2"), ("too many positional arguments",)),
    "exec-bad-json-argument": Bad(("exec", "echo", '{"text": 1'), ("looks like JSON but is not",)),
    "exec-bad-key-value": Bad(("exec", "echo", "1x=2", "=3", "text=hi"),
                              ("multiple values for argument 'text'",
                               "positional values given: '1x=2', '=3'")),
    "show-unknown": Bad(("show", "ech"), ("No plugin named 'ech' is installed", "Did you mean")),
    "remove-unknown": Bad(("remove", "cjm-example-ech", "-y"), ("Did you mean 'cjm-example-echo'",)),
    "render-unknown": Bad(("render", "ech"), ("No plugin named 'ech' in", "Did you mean 'echo'?")),
    "build-unknown": Bad(("build", "ech"), ("Did you mean 'echo'?",)),
    "install-unknown": Bad(("install-all", "-p", "fileinfo"), ("No plugin named 'fileinfo'",)),
    "test-unknown": Bad(("test", "ech"), ("Did you mean 'echo'?",)),
    "test-junit-folder": Bad(("test", "echo", "--junit", "."), ("--junit .",)),
    "estimate-unknown": Bad(("estimate-size", "-p", "ech"), ("Did you mean 'echo'?",)),
    "plugins-missing": Bad(("list", "--plugins", "nope.yaml"), ("plugins file not found",)),
    "plugins-a-folder": Bad(("install-all", "--plugins", "."), ("cannot read the plugins file",)),
    "plugins-a-folder-show": Bad(("show", "echo", "--plugins", "."), ("cannot read",)),
    "ci-matrix-missing": Bad(("ci-matrix", "--plugins", "nope.yaml"), ("plugins file not found",)),
    "setup-runtime-python": Bad(("setup-runtime", "--python", "3.99"),
                                ("--python 3.99", "choices: 3.8")),
    "cjm-config-missing": Bad(("--cjm-config", "nope.yaml", "list"), ("does not exist",)),
    "cjm-config-folder": Bad(("--cjm-config", ".", "list"), ("is not a file",)),
    "data-dir-a-file": Bad(("--data-dir", "plugins.yaml", "list"), ("is a file, not a folder",)),
    "models-dir-a-file": Bad(("--models-dir", "plugins.yaml", "exec", "echo"),
                             ("is a file, not a folder",)),
    "compose-out-a-file": Bad(("compose", "-o", "compose.yml"),
                              ("takes the deployment folder, not a file", "-o compose")),
    "compose-bad-port": Bad(("compose", "--port", "echo:80"), ("--port takes NAME=PORT",)),
    "compose-only-unknown": Bad(("compose", "--only", "ech", "-o", "out"),
                                ("Did you mean 'echo'",)),
    "up-out-a-file": Bad(("up", "-o", "x.yaml"), ("not a file",)),
    "down-missing": Bad(("down", "-o", "nowhere"), ("nowhere",)),
    "logs-negative-lines": Bad(("logs", "echo", "-n", "-5"), usage=True),
    "logs-lines-not-a-number": Bad(("logs", "echo", "-n", "x"), usage=True),
    "ps-unknown-option": Bad(("ps", "--bogus"), usage=True),
    "gc-extra-argument": Bad(("gc", "extra"), usage=True),
    "doctor-extra-argument": Bad(("doctor", "extra"), usage=True),
    "schema-extra-argument": Bad(("schema", "x"), usage=True),
    "setup-host-unknown-option": Bad(("setup-host", "--nope"), usage=True),
    "unknown-command": Bad(("shwo",), usage=True),
}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A cwd with plugins.yaml and one installed manifest; the engine refuses to be made."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CJM_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "plugins.yaml").write_text(PLUGINS_YAML)
    (tmp_path / "data" / "manifests").mkdir(parents=True)
    (tmp_path / "data" / "manifests" / "cjm-example-echo.json").write_text(json.dumps(MANIFEST))
    calls: list[str] = []

    def refuse(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        calls.append("Engine()")
        raise AssertionError("the engine was asked")

    monkeypatch.setattr(engine_module.Engine, "__init__", refuse)
    yield calls
    config_module.reset_config()


def test_every_command_is_covered() -> None:
    from cjm_docker.cli.root import app

    commands = {c.name for c in app.registered_commands}
    covered = {a for case in CASES.values() for a in case.args if a in commands}
    assert commands - covered == set()


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_malformed_values(case: Bad, workdir: list[str], cjm_ctl) -> None:
    result = cjm_ctl(*case.args)
    assert result.code == (2 if case.usage else 1), result.text
    assert "Traceback" not in result.text and INTERNAL_ERROR not in result.text, result.text
    assert workdir == [], "the engine was asked before the input was checked"
    message = " ".join(result.err.split())
    print(f"\n{' '.join(case.args)}\n  {message}")
    if case.usage:
        assert "Usage:" in result.err
        return
    assert message.startswith("Error: "), result.text
    assert message.count("Error: ") == 1, "one paragraph"
    for fragment in case.expect:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_debug_shows_the_traceback(workdir: list[str], cjm_ctl) -> None:
    result = cjm_ctl("--debug", "exec", "echo", "--config", "[1]")
    assert result.code == 1 and "Traceback" in result.err
