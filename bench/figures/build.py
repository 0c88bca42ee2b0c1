"""Image builds: cold (no layer cache), no-op (nothing changed) and after a code-only change.

Cold and code-only work on a copy of the echo example under its own name and data folder, so
the installed examples are not disturbed: cold is ``install-all --force --no-cache`` of the copy,
code-only is ``install-all`` after appending a comment to the copy's plugin.py. No-op is
``install-all`` of every example in plugins.yaml, all current. Times are the command's wall
time, Python start-up of the CLI included (what a user waits for). 0.0.28 builds no images,
and there is no floor for a build: those columns stay empty.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from figures.common import Bench, Figure, median

REPO = Path(__file__).resolve().parents[2]
COPY = "bench-echo-copy"


def _cli(data: Path, *args: str) -> tuple[float, float | None]:
    """Run cjm-ctl; (wall seconds, the seconds it reports itself)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "cjm_docker.cli.app", "--data-dir", str(data),
                           *args], capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"cjm-ctl {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    said = re.search(r"in ([0-9.]+) s\.", done.stdout + done.stderr)
    return wall, float(said.group(1)) if said else None


def _remove_images() -> None:
    ids = subprocess.run(["docker", "images", "-q", f"cjm-plugin/{COPY}"], capture_output=True,
                         text=True).stdout.split()
    if ids:
        subprocess.run(["docker", "rmi", "-f", *sorted(set(ids))], capture_output=True)


def builds(bench: Bench) -> list[Figure]:
    tree = bench.work / COPY
    shutil.rmtree(tree, ignore_errors=True)
    shutil.copytree(REPO / "examples" / "plugins" / "cjm-example-echo", tree,
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist"))
    source = tree / "cjm_example_echo" / "plugin.py"
    original = source.read_text()
    yaml = bench.work / "build-plugins.yaml"
    yaml.write_text(f'plugins:\n  - name: {COPY}\n    python_version: "3.11"\n'
                    f"    package: {tree}\n")
    data = bench.work / "build-data"
    shutil.rmtree(data, ignore_errors=True)
    _cli(data, "setup-runtime")
    main_data = bench.config.data_dir
    cold, code, noop, noop_said = [], [], [], []
    try:
        for r in range(bench.n(2, 1)):
            source.write_text(original)
            cold.append(_cli(data, "install-all", "--plugins", str(yaml), "--force",
                             "--no-cache")[0])
            source.write_text(original + f"\n# bench edit {r}\n")
            code.append(_cli(data, "install-all", "--plugins", str(yaml))[0])
            for _ in range(bench.n(3, 1)):
                wall, said = _cli(main_data, "install-all", "--plugins", str(bench.plugins_yaml))
                noop.append(wall)
                noop_said.append(said)
    finally:
        _remove_images()
        shutil.rmtree(tree, ignore_errors=True)
    cold_s, code_s = median(cold), median(code)
    figures = [
        Figure("build_cold_s", "Image build, cold (--no-cache), echo", "s", "lower", "build",
               cold_s),
        Figure("build_noop_s", "Image build, no-op, all examples", "s", "lower", "build",
               median(noop), goal="<= 2 s"),
        Figure("build_code_change_s", "Image build after a code-only change, echo", "s",
               "lower", "build", code_s),
    ]
    figures[1].goal_met = figures[1].ours <= 2.0
    figures[1].extra = {"reported_by_cli_s": median([s for s in noop_said if s is not None])}
    figures[2].extra = {"fraction_of_cold": round(code_s / cold_s, 3)}
    return figures
