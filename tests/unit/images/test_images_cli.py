"""Image commands that need no engine: schema, setup-host, names (render needs the base
image's id and the lock: tests/integration/images/test_images_layers.py)."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def _repo_copy(workdir: Path) -> Path:
    shutil.copytree(REPO / "examples", workdir / "examples")
    shutil.copy(REPO / "plugins.yaml", workdir / "plugins.yaml")
    return workdir / "plugins.yaml"


def test_setup_host_lists_interface_libs(cjm_ctl, workdir: Path) -> None:
    (workdir / "plugins.yaml").write_text("""
plugins:
  - name: a
    package: a-plugin
    interface_libs: [cjm-plugin-system, cjm-graph-plugin-system]
  - name: b
    package: b-plugin
    interface_libs: ["git+https://github.com/cj-mills/cjm-plugin-system.git", cjm-text-plugin-system]
""")
    result = cjm_ctl("setup-host", "--dry-run")
    assert result.code == 0, result.err
    command = result.out.strip().splitlines()[-1]
    assert command.endswith("-m pip install cjm-graph-plugin-system cjm-text-plugin-system")


def test_setup_host_with_nothing_to_do(cjm_ctl, workdir: Path) -> None:
    _repo_copy(workdir)
    result = cjm_ctl("setup-host", "-y")
    assert result.code == 0 and "No interface libraries" in result.out


@pytest.mark.parametrize("answer", ["", "n\n"], ids=["no-terminal", "no"])
def test_remove_asks_first(cjm_ctl, workdir: Path, monkeypatch: pytest.MonkeyPatch, answer: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(answer))
    manifests = workdir / "data" / "manifests"
    manifests.mkdir(parents=True)
    path = manifests / "cjm-example-echo.json"
    path.write_text('{"name": "cjm-example-echo", "module": "m", "class": "C", "image": "x:1", '
                    '"spec_name": "echo"}')
    result = cjm_ctl("remove", "echo")
    assert result.code == 1 and "not confirmed" in result.out
    assert path.exists()
