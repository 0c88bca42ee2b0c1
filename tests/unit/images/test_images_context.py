"""Content hash and build context: deterministic, and sensitive to exactly what matters."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from cjm_docker.images.context import (
    CONTEXT_MTIME,
    ContextFile,
    collect_tree,
    content_hash,
    context_tar,
)

FILES = (ContextFile("Dockerfile", b"FROM x\n"), ContextFile("cjm/plugin/a.py", b"print(1)\n"),
         ContextFile("cjm/plugin/run.sh", b"#!/bin/sh\n", 0o755))


def test_hash_is_deterministic_and_order_free() -> None:
    one = content_hash(FILES, base_image_id="sha256:abc", build_args=[("A", "1"), ("B", "2")])
    two = content_hash(tuple(reversed(FILES)), base_image_id="sha256:abc",
                       build_args=[("B", "2"), ("A", "1")])
    assert one == two and len(one) == 64


def test_hash_covers_bytes_paths_modes_base_and_args() -> None:
    base = content_hash(FILES, base_image_id="sha256:abc")
    changed_byte = (FILES[0], ContextFile("cjm/plugin/a.py", b"print(2)\n"), FILES[2])
    moved = (FILES[0], ContextFile("cjm/plugin/b.py", b"print(1)\n"), FILES[2])
    mode = (FILES[0], FILES[1], ContextFile("cjm/plugin/run.sh", b"#!/bin/sh\n", 0o644))
    variants = {
        content_hash(changed_byte, base_image_id="sha256:abc"),
        content_hash(moved, base_image_id="sha256:abc"),
        content_hash(mode, base_image_id="sha256:abc"),
        content_hash(FILES, base_image_id="sha256:def"),
        content_hash(FILES, base_image_id="sha256:abc", build_args=[("A", "1")]),
    }
    assert base not in variants and len(variants) == 5


def test_tar_is_byte_stable_with_fixed_metadata() -> None:
    data = context_tar(FILES)
    assert data == context_tar(tuple(reversed(FILES)))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = tar.getmembers()
        assert [m.name for m in members if m.isfile()] == sorted(f.path for f in FILES)
        assert {m.mtime for m in members} == {CONTEXT_MTIME}
        assert {m.uid for m in members} == {0}
        run = tar.getmember("cjm/plugin/run.sh")
        assert run.mode == 0o755
        assert tar.getmember("cjm/plugin").isdir()


def test_collect_tree_skips_caches_and_vcs(tmp_path: Path) -> None:
    for rel in ("pkg/mod.py", "pkg/__pycache__/mod.cpython-311.pyc", ".git/HEAD", "x.egg-info/PKG-INFO",
                "build/lib/mod.py", ".venv/bin/python", "README.md", "pkg/data.bin"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    assert [f.path for f in collect_tree(tmp_path)] == ["README.md", "pkg/data.bin", "pkg/mod.py"]
