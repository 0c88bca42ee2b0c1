"""docs/plugins.md shows the example plugin's files as they are: a reader who copies them
gets the plugin CI builds and tests (tests/integration/test_plugin_guide.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "plugins.md"
EXAMPLE = REPO / "examples" / "plugins" / "cjm-example-wordcount"
FENCE = re.compile(r"^```(?P<lang>\w*)\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)


def blocks() -> list[str]:
    return [m.group("body") for m in FENCE.finditer(GUIDE.read_text())]


@pytest.mark.parametrize("file", ["pyproject.toml", ".dockerignore", "plugins.yaml",
                                  "cjm_example_wordcount/meta.py",
                                  "cjm_example_wordcount/plugin.py"])
def test_the_guide_shows_the_example_files_verbatim(file: str) -> None:
    assert (EXAMPLE / file).read_text() in blocks(), f"docs/plugins.md does not show {file} as it is"


def test_the_guide_covers_what_a_plugin_author_needs() -> None:
    text = GUIDE.read_text()
    for topic in ("## The contract", "## meta.py", "**Progress and cancel.**",
                  "**Config dataclasses and schemas.**", "samples", "what not to declare",
                  "cjm-ctl test", "cjm-ctl show", ".dockerignore"):
        assert topic in text, topic
