"""The lint rules are part of the suite: `ruff check .` and `mypy cjm_docker` report nothing, so
a regression fails `scripts/test` (and CI) rather than waiting for a reviewer. Both tools come
with the dev extras; the type check also proves the public names resolve to their classes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def tool(module: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


def test_ruff_check_finds_nothing():
    proc = tool("ruff", "check", ".", "--output-format", "concise")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_finds_nothing():
    proc = tool("mypy", "cjm_docker")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_public_names_resolve_to_their_classes(tmp_path):
    """Behind the lazy imports of cjm_docker/__init__.py, a type checker sees the classes
    (not Any): calling a method that does not exist must be an error."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import cjm_docker\n"
        "from cjm_docker import JobQueue, PluginManager\n"
        "reveal_type(PluginManager)\n"
        "reveal_type(JobQueue)\n"
        "reveal_type(cjm_docker.RemotePluginProxy)\n"
        "PluginManager().no_such_method()\n")
    proc = tool("mypy", "--no-incremental", str(probe))
    text = proc.stdout
    for name in ("cjm_docker.host.manager.PluginManager", "cjm_docker.queue.job_queue.JobQueue",
                 "cjm_docker.host.proxy.RemotePluginProxy"):
        assert name in text, f"mypy does not see {name}:\n{text}"
    assert '"PluginManager" has no attribute "no_such_method"' in text, text


@pytest.mark.parametrize("name", ["PluginManager", "JobQueue", "RemotePluginProxy", "PluginMeta",
                                  "CjmDockerError", "FileBackedDTO", "PluginInterface"])
def test_lazy_names_still_import_at_run_time(name):
    import cjm_docker

    assert getattr(cjm_docker, name).__name__ == name
