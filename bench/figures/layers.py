"""Layered builds (issue 16, `bench/builds.py`; only with `bench/run.py --builds`: about 10 minutes).

Runs bench/builds.py in a subprocess under private names (its own runtime, stack and package
cache) and reads bench/out/builds.json: the cold build of echo, a second trivial plugin, the
disk of ten trivial plugins and of three on one numpy/pandas/scipy stack, a rebuild after adding
one small dependency, and the cold environment install against its floor: `uv pip install`
with the same flags into a host venv, both with empty caches, in rounds interleaved with the
floor (the median install over the median floor). Disk figures are `du -sb` of the layer
folders beyond the base.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from figures.common import Bench, Figure

BENCH = Path(__file__).resolve().parents[1]


def builds_json(quick: bool) -> dict:
    plugins = "3" if quick else "10"
    done = subprocess.run([sys.executable, str(BENCH / "builds.py"), "--plugins", plugins],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"bench/builds.py failed:\n{done.stdout}\n{done.stderr[-4000:]}")
    print(done.stdout, file=sys.stderr)
    return dict(json.loads((BENCH / "out" / "builds.json").read_text()))


def layered_builds(bench: Bench) -> list[Figure]:
    got = builds_json(bench.quick)
    cold = got["cold_build_s"]
    n = got["trivial_n"]
    figures = [
        Figure("layers_cold_s", "Layered build, cold (new runtime, empty cache), echo", "s",
               "lower", "build", cold),
        Figure("layers_second_s", "Second trivial plugin on the same runtime", "s", "lower",
               "build", got["second_plugin_s"], goal="<= 0.3 x cold",
               goal_met=got["second_plugin_ratio"] <= 0.3,
               extra={"fraction_of_cold": got["second_plugin_ratio"]}),
        Figure("layers_dep_change_s", "Rebuild after adding one small dependency", "s",
               "lower", "build", got["dep_change_s"], goal="<= 0.3 x cold",
               goal_met=got["dep_change_ratio"] <= 0.3,
               extra={"fraction_of_cold": got["dep_change_ratio"]}),
        Figure("layers_trivial_disk_x", f"Disk of {n} trivial plugins / one", "x", "lower",
               "disk", got["trivial_n_ratio"], goal="<= 1.1",
               goal_met=got["trivial_n_ratio"] <= 1.1),
        Figure("layers_stack_disk_x", "Disk of 3 plugins on numpy/pandas/scipy / one", "x",
               "lower", "disk", got["stack_three_ratio"], goal="<= 1.3",
               goal_met=got["stack_three_ratio"] <= 1.3),
        Figure("layers_env_install_s", "Cold environment install (floor: uv into a host venv)",
               "s", "lower", "build", got["env_install_s"], floor=got["env_floor_s"],
               goal="<= 1.3 x floor", goal_met=got["env_install_ratio"] <= 1.3,
               extra={"phases": got["env_install_phases"],
                      "floor_phases": got["env_floor_phases"],
                      "rounds_s": got["env_rounds_s"], "floors_s": got["env_floors_s"],
                      "round_ratios": got["env_round_ratios"],
                      "plain_uv_s": got["env_plain_uv_s"]}),
    ]
    return figures
