"""`cli/app.py` is the one place `cjm-ctl` commands are registered: every module of
`cjm_docker/cli/` that declares a command must be reached by importing the entry point alone,
in a fresh interpreter (no test-side import may register a command on its behalf)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from tests.fixtures.doc_blocks import readme_commands

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / "cjm_docker" / "cli"


def declared_commands() -> dict[str, str]:
    """Command name -> module, read from the source (``@app.command("name")`` decorators)."""
    found: dict[str, str] = {}
    for path in sorted(CLI.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef):
                continue
            for deco in node.decorator_list:
                if (isinstance(deco, ast.Call) and isinstance(deco.func, ast.Attribute)
                        and deco.func.attr == "command"):
                    name = (deco.args[0].value if deco.args and isinstance(deco.args[0], ast.Constant)
                            else node.name.replace("_", "-"))
                    found[name] = f"cjm_docker.cli.{path.stem}"
    return found


def registered_by_the_entry_point() -> tuple[set[str], set[str]]:
    """Commands and cli modules present after `import cjm_docker.cli.app`, in a fresh process."""
    code = ("import json, sys; from cjm_docker.cli.app import app; "
            "print(json.dumps([[c.name or c.callback.__name__.replace('_', '-') "
            "for c in app.registered_commands], "
            "[m for m in sys.modules if m.startswith('cjm_docker.cli.')]]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO, timeout=120, check=True)
    commands, modules = json.loads(proc.stdout)
    return set(commands), set(modules)


def test_every_declared_command_is_registered_by_app_py():
    declared = declared_commands()
    assert {"doctor", "test", "ci-matrix", "compose", "up", "down", "exec"} <= set(declared)
    commands, modules = registered_by_the_entry_point()
    missing = {name: module for name, module in declared.items() if name not in commands}
    assert not missing, (f"commands declared but not registered by cjm_docker/cli/app.py: "
                         f"{missing}; import their modules there")
    assert {m for m in declared.values()} <= modules


def test_the_readme_commands_answer_help(cjm_ctl):
    named = readme_commands()
    assert {"list", "remove", "render", "estimate-size", "logs", "up", "down"} <= named
    for name in sorted(named):
        result = cjm_ctl(name, "--help")
        assert result.code == 0, f"cjm-ctl {name} --help: {result.text}"
