"""Shell completion works through the real entry point: commands, options, plugin names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def complete(words: str, data_dir: Path) -> list[str]:
    """What bash completion gets for the command line ``words`` (cursor at its end)."""
    env = {**os.environ, "_CJM_CTL_COMPLETE": "complete_bash", "COMP_WORDS": words,
           "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
           "CJM_DATA_DIR": str(data_dir)}
    proc = subprocess.run([sys.executable, "-m", "cjm_docker.cli.app"], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    return proc.stdout.split()


def test_commands_options_and_plugin_names_complete(tmp_path: Path) -> None:
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "cjm-example-echo.json").write_text(json.dumps({
        "name": "cjm-example-echo", "spec_name": "echo", "module": "m", "class": "C",
        "image": "cjm-plugin/echo:0123456789abcdef"}))
    assert complete("cjm-ctl sh", tmp_path) == ["show"]
    assert "--json" in complete("cjm-ctl list --", tmp_path)
    assert complete("cjm-ctl show e", tmp_path) == ["echo"]
    assert complete("cjm-ctl logs cjm-", tmp_path) == ["cjm-example-echo"]
    assert complete("cjm-ctl exec ", tmp_path) == ["cjm-example-echo", "echo"]


def test_completion_can_be_installed() -> None:
    help_text = subprocess.run([sys.executable, "-m", "cjm_docker.cli.app", "--help"],
                               capture_output=True, text=True, cwd=REPO, timeout=60,
                               env={**os.environ, "COLUMNS": "200"}).stdout
    assert "--install-completion" in help_text and "--show-completion" in help_text
