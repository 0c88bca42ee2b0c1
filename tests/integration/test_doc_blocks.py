"""Every shell and Python block of README.md and docs/*.md runs as a reader would run it.

The blocks of one file run in order in one working dir (the repository's plugins.yaml, examples
and tooling linked in; a fresh data dir), so a walkthrough's later steps see what its earlier
steps wrote. A file with a ``needs-images`` block gets the example images first (the session's
``example_plugins`` fixture builds them once; installing them into the file's data dir is then a
cache hit). What a walkthrough deploys is taken down afterwards. Convention and markers:
tests/fixtures/doc_blocks.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.doc_blocks import REPO, SHELL, DocBlock, doc_files, read_blocks
from tests.integration.conftest import EXAMPLES_YAML, run_ctl

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# What a doc may refer to by a relative path. Not compose/: the deploy walkthrough writes it.
LINKED = ("plugins.yaml", "examples", "scripts", "tests", "docs", "bench", ".github",
          "README.md", "pyproject.toml", "cjm_docker", "templates", "images")
BLOCK_TIMEOUT = 900
RUN_FILES = [p for p in doc_files() if any(b.runs and b.language != "yaml"
                                           for b in read_blocks(p))]


def workdir_for(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    for name in LINKED:
        if (REPO / name).exists():
            (work / name).symlink_to(REPO / name)
    return work


def block_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CJM_")}
    env.update(CJM_DATA_DIR=str(data_dir), COLUMNS="200",
               PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}")
    return env


def run_block(block: DocBlock, work: Path, env: dict[str, str]) -> None:
    script = work / f".doc-block-{block.line}"
    script.write_text(block.code)
    command = (["bash", "-euo", "pipefail", str(script)] if block.language in SHELL
               else [sys.executable, str(script)])
    proc = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True,
                          timeout=BLOCK_TIMEOUT)
    assert proc.returncode == 0, (
        f"{block.where}: the {block.language} block exited {proc.returncode}.\n--- block\n"
        f"{block.code}--- stdout\n{proc.stdout[-4000:]}--- stderr\n{proc.stderr[-4000:]}")


def take_down(work: Path, env: dict[str, str]) -> None:
    """A walkthrough that deployed (`cjm-ctl up`) is taken down, whatever happened."""
    if (work / "compose" / "docker-compose.yml").is_file():
        subprocess.run([sys.executable, "-m", "cjm_docker.cli.app", "down"], cwd=work, env=env,
                       capture_output=True, timeout=300)


@pytest.mark.timeout(1800)  # a walkthrough may build images (cache hits when others built them)
@pytest.mark.parametrize("path", RUN_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_doc_blocks_run(path: Path, tmp_path: Path, request) -> None:
    blocks = [b for b in read_blocks(path) if b.runs and b.language != "yaml"]
    work, data_dir = workdir_for(tmp_path), tmp_path / "data"
    env = block_env(data_dir)
    if any(b.needs_images for b in blocks):
        request.getfixturevalue("example_plugins")
        run_ctl("install-all", "--plugins", str(EXAMPLES_YAML), data_dir=data_dir)
    try:
        for block in blocks:
            run_block(block, work, env)
    finally:
        take_down(work, env)
