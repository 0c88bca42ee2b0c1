"""A plugin folder's .dockerignore keeps files out of its build context (Docker's rules), and
a large context is warned about."""

from __future__ import annotations

from pathlib import Path

import pytest

from cjm_docker.images.context import collect_tree
from cjm_docker.images.dockerignore import DockerIgnore


@pytest.mark.parametrize(("lines", "path", "ignored"), [
    (["models"], "models/w.bin", True),                  # a folder covers what is under it
    (["models"], "src/models/w.bin", False),             # patterns are anchored at the root
    (["/models/"], "models/w.bin", True),                # leading and trailing slashes dropped
    (["*.bin"], "w.bin", True),
    (["*.bin"], "sub/w.bin", False),                     # * stays within one folder
    (["**/*.bin"], "sub/deep/w.bin", True),
    (["**/*.bin"], "w.bin", True),                       # **/ is zero or more folders
    (["data/**"], "data/a/b.csv", True),
    (["w?.bin"], "w1.bin", True),
    (["w[0-9].bin"], "wx.bin", False),
    (["w[^0-9].bin"], "wx.bin", True),
    (["*.bin", "!keep.bin"], "keep.bin", False),         # the last matching line decides
    (["!keep.bin", "*.bin"], "keep.bin", True),
    (["# a comment", "", "  "], "a.py", False),
    (["./notes/../scratch"], "scratch/x", True),         # cleaned like filepath.Clean
])
def test_patterns(lines: list[str], path: str, ignored: bool) -> None:
    assert DockerIgnore(lines).ignored(path) is ignored


def tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_collect_tree_honours_the_folder_dockerignore(tmp_path: Path) -> None:
    root = tree(tmp_path, {
        ".dockerignore": "models/\n*.ckpt\n!keep.ckpt\nnotebooks\n",
        "pyproject.toml": "x", "pkg/__init__.py": "", "pkg/meta.py": "",
        "models/weights.bin": "w" * 100, "big.ckpt": "c", "keep.ckpt": "k",
        "notebooks/a.ipynb": "{}",
    })
    paths = [f.path for f in collect_tree(root)]
    assert paths == [".dockerignore", "keep.ckpt", "pkg/__init__.py", "pkg/meta.py",
                     "pyproject.toml"]


def test_without_a_dockerignore_everything_but_caches_is_kept(tmp_path: Path) -> None:
    root = tree(tmp_path, {"a.py": "", "models/w.bin": "w", "__pycache__/a.pyc": ""})
    assert [f.path for f in collect_tree(root)] == ["a.py", "models/w.bin"]


def test_a_reincluded_file_under_an_ignored_folder_is_kept(tmp_path: Path) -> None:
    root = tree(tmp_path, {".dockerignore": "models\n!models/README.md\n",
                           "models/w.bin": "w", "models/README.md": "r"})
    assert [f.path for f in collect_tree(root)] == [".dockerignore", "models/README.md"]
