"""The docs' code blocks follow the doc-test convention (tests/fixtures/doc_blocks.py), their
YAML is valid, and every `cjm-ctl` command they name exists. Running the shell and Python blocks
is tests/integration/test_doc_blocks.py's job (they need the engine)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from cjm_docker.spec.plugins_file import load_plugins_file
from tests.fixtures.doc_blocks import REPO, DocBlock, all_blocks, doc_files, read_blocks

BLOCKS = all_blocks()


def test_every_block_runs_or_says_why_not():
    problems = [p for p in (block.problem() for block in BLOCKS) if p]
    assert not problems, "doc blocks that break the doc-test convention:\n" + "\n".join(problems)


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.language == "yaml" and b.runs],
                         ids=lambda b: b.where)
def test_yaml_blocks_are_valid(block: DocBlock, tmp_path):
    document = yaml.safe_load(block.code)
    assert isinstance(document, dict), f"{block.where}: not a YAML mapping"
    if "plugins" in document:
        path = tmp_path / "plugins.yaml"
        path.write_text(block.code)
        load_plugins_file(path)


def test_every_command_the_docs_name_exists():
    from cjm_docker.cli.app import app

    commands = {c.name for c in app.registered_commands}
    named: dict[str, str] = {}
    for path in doc_files():
        for name in re.findall(r"cjm-ctl ([a-z][a-z-]+)", path.read_text()):
            named.setdefault(name, str(path.relative_to(REPO)))
    unknown = {name: where for name, where in named.items() if name not in commands}
    assert not unknown, f"the docs name commands cjm-ctl does not have: {unknown}"


def test_the_reader_understands_markers(tmp_path: Path, monkeypatch):
    doc = tmp_path / "doc.md"
    doc.write_text("intro\n\n<!-- doc-test: skip (needs a GPU) -->\n```bash\nnvidia-smi\n```\n"
                   "<!-- doc-test: needs-images -->\n```python\nprint(1)\n```\n"
                   "```\nplain\n```\n<!-- doc-test: skip -->\n```bash\nx\n```\n"
                   "  ```yaml\n  a: 1\n  ```\n")
    monkeypatch.setattr("tests.fixtures.doc_blocks.REPO", tmp_path)
    skip, images, bare, reasonless, indented = read_blocks(doc)
    assert (skip.skip_reason, skip.runs, skip.problem()) == ("needs a GPU", False, None)
    assert (images.needs_images, images.runs, images.code) == (True, True, "print(1)\n")
    assert "no language" in bare.problem()
    assert "unknown doc-test marker" in reasonless.problem()
    assert (indented.language, indented.code, indented.line) == ("yaml", "a: 1\n", 18)
