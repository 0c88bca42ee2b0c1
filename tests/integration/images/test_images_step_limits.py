"""A build step's container runs under limits, on the real engine.

A plugin's install scripts (an sdist's setup.py, a build backend) run in the build step's
container, so it gets the limits every other container gets: memory, CPU, processes and the
size of the engine's log of it. The step reads its own cgroup (v1 or v2) and prints it; the
printed values are the test's evidence.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from cjm_docker.engine import BindMount, Engine
from cjm_docker.engine_types import HelperLimits

pytestmark = pytest.mark.integration

# Each line: "<what> <value>" from cgroup v2, else v1.
READ_CGROUP = r"""
v2=/sys/fs/cgroup
if [ -f $v2/cgroup.controllers ]; then
  echo "pids $(cat $v2/pids.max)"; echo "memory $(cat $v2/memory.max)"
  echo "cpu $(cut -d' ' -f1 $v2/cpu.max)"
else
  echo "pids $(cat $v2/pids/pids.max)"; echo "memory $(cat $v2/memory/memory.limit_in_bytes)"
  echo "cpu $(cat $v2/cpu/cpu.cfs_quota_us)"
fi
"""


def _step_limits(engine: Engine, base: str, folder: Path, limits: HelperLimits) -> dict[str, str]:
    (folder / "run.sh").write_text(READ_CGROUP)
    seen: dict[str, str] = {}

    def heard(line: str) -> None:
        what, _, value = line.strip().partition(" ")
        seen[what] = value

    volume = f"cjm-test-cache-{secrets.token_hex(3)}"
    image = engine.commit_step(base, ["/bin/sh", "/cjm-build/run.sh"],
                               BindMount(str(folder), "/cjm-build", read_only=True),
                               (volume, "/cjm-cache"), {"io.cjm.test": "step-limits"}, 60,
                               limits=limits, on_output=heard, step="limits")
    engine.remove_image(image, force=True)
    engine.api.remove_volume(volume, force=True)
    return seen


def test_a_build_step_gets_memory_cpu_and_process_limits(engine: Engine, python_base: str,
                                                          tmp_path: Path) -> None:
    limits = HelperLimits(memory_bytes=768 << 20, nano_cpus=1_500_000_000, pids=300)
    seen = _step_limits(engine, python_base, tmp_path, limits)
    assert seen["pids"] == "300"
    assert seen["memory"] == str(768 << 20)
    assert seen["cpu"] == "150000"       # 1.5 CPUs of the default 100 ms period
