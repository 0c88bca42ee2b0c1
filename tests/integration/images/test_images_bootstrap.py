"""setup-runtime from nothing: debootstrap Debian, import it, build the Python base on top.

Runs under test-only names, so the shared aliases other sessions use are never replaced."""

from __future__ import annotations

import os
import secrets
import shutil
import time

import pytest

from cjm_docker import labels
from cjm_docker.config import load_config
from cjm_docker.engine import ContainerSpec
from cjm_docker.images.bootstrap import RuntimeSetup

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.sent = 0

    def step(self, text: str) -> None:
        self.lines.append(text)

    def line(self, text: str) -> None:
        self.lines.append(text)

    def transfer(self, done: int, total: int) -> None:
        self.sent = done

    def done(self, text: str) -> None:
        pass


@pytest.mark.skipif(shutil.which("debootstrap") is None or os.geteuid() != 0,
                    reason="needs debootstrap and root")
def test_bootstrap_python_base_from_nothing(engine, tmp_path) -> None:
    suffix = secrets.token_hex(3)
    rootfs, alias = f"cjm-test-{suffix}/rootfs:bookworm", f"cjm-test-{suffix}/base-python:3.11"
    progress = Lines()
    setup = RuntimeSetup(load_config(data_dir=tmp_path), engine, progress)
    try:
        started = time.perf_counter()
        setup.make_rootfs("bookworm", rootfs)
        made = time.perf_counter()
        setup.build_python_base(rootfs, alias, "3.11")
        print(f"\ndebootstrap + import: {made - started:.1f} s; base build: "
              f"{time.perf_counter() - made:.1f} s; size "
              f"{engine.image_inspect(alias)['Size'] / 1e6:.0f} MB")
        assert any(line.startswith("I: Base system installed successfully") for line in progress.lines)
        assert progress.sent > 100 * 1024**2
        assert engine.image_inspect(rootfs)["Config"]["Labels"][labels.ROLE] == "base"
        code, out, err = engine.run_once(ContainerSpec(
            image=alias, name=f"cjm-test-base-{suffix}",
            command=["sh", "-c", "python3 --version; id -u cjm; python3 -m venv /tmp/v && echo venv-ok; "
                                 "ls /var/lib/apt/lists | wc -l"]))
        assert code == 0, err
        version, uid, venv, lists = out.split("\n")[:4]
        assert version.startswith("Python 3.11.") and uid == "10001" and venv == "venv-ok"
        assert lists.strip() in ("0", "1")  # apt's indexes were pruned
    finally:
        engine.remove_image(alias, force=True)
        engine.remove_image(rootfs, force=True)
