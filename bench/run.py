"""The benchmark suite's one entry point: cjm-docker, the floor and cjm-plugin-system 0.0.28.

    .venv/bin/python bench/run.py [--quick] [--builds] [--data-dir DIR]

``--builds`` adds the layered-build figures of bench/builds.py (issue 16: about 10 more minutes).

Installs what it needs (the example plugin images via cjm-ctl, 0.0.28 in its own venv under
bench/out/), measures every figure with the sides in interleaved rounds so drift hits all alike,
then prints one JSON line and a markdown table, and writes bench/out/results.json,
docs/benchmarks.md and docs/bench.png. Every container it starts is removed, failure or not.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

import report  # noqa: E402
from figures import build, fanout, files, jobqueue, layers, memory, runtime, stream  # noqa: E402
from figures.common import PLUGIN, Bench  # noqa: E402
from figures.cps import CpsDriver  # noqa: E402

from cjm_docker.config import load_config  # noqa: E402
from cjm_docker.engine import Engine  # noqa: E402
from cjm_docker.host.manager import PluginManager  # noqa: E402

OUT = BENCH / "out"
# In table order: each returns a list of figures.
FIGURES = (runtime.cold_start, runtime.warm_execute, stream.streaming, files.file_dto,
           memory.idle_memory, fanout.fanout, build.builds, layers.layered_builds,
           jobqueue.queue_throughput)
MODULES = (runtime, stream, files, memory, fanout, build, layers, jobqueue)
SLOW = {layers.layered_builds.__name__: "--builds"}   # run only when asked for


def install(data_dir: Path, plugins_yaml: Path) -> None:
    cli = [sys.executable, "-m", "cjm_docker.cli.app", "--data-dir", str(data_dir)]
    for args in (["setup-runtime"], ["install-all", "--plugins", str(plugins_yaml)]):
        done = subprocess.run([*cli, *args], capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"cjm-ctl {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")


def method_notes() -> str:
    notes = ["## Method", "",
             "The floor is the same plugin image doing the least work Docker and FastAPI allow: "
             "a one-route FastAPI app (`bench/floor.py`) started with a bare create+start, on a "
             "Unix socket in a bind-mounted folder, the transport cjm-docker uses. "
             "cjm-plugin-system 0.0.28 runs from PyPI in its own venv (`bench/out/cps-venv`); "
             "its worker is a host process running the echo example's behaviour as a plain "
             "module (`bench/figures/cps.py`). Ratios are cjm-docker / other side: below 1 "
             "is better for times, above 1 for rates.", ""]
    for module in MODULES:
        doc = (module.__doc__ or "").strip()
        title, _, body = doc.partition("\n")
        notes += [f"- **{title.strip()}** {' '.join(body.split())}", ""]
    return "\n".join(notes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds: a smoke run")
    parser.add_argument("--data-dir", type=Path, default=OUT / "run-data",
                        help="cjm data root for the installed examples (default bench/out/run-data)")
    parser.add_argument("--plugins", type=Path, default=REPO / "plugins.yaml")
    parser.add_argument("--docs", type=Path, default=REPO / "docs",
                        help="where benchmarks.md and bench.png go")
    parser.add_argument("--only", action="append", help="run only these figure functions")
    parser.add_argument("--builds", action="store_true",
                        help="also the layered-build figures (bench/builds.py): about 10 minutes")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    OUT.mkdir(parents=True, exist_ok=True)
    install(args.data_dir, args.plugins)
    config = load_config(data_dir=args.data_dir)
    engine = Engine()
    manager = PluginManager(search_paths=[config.manifests_dir], config=config, engine=engine)
    manager.discover_manifests()
    meta = manager.get_discovered_meta(PLUGIN)
    if meta is None:
        sys.exit(f"{PLUGIN} is not installed in {config.data_dir}.")
    cps = CpsDriver()
    bench = Bench(config, engine, manager, meta.manifest["image"], cps, args.quick,
                  args.plugins, OUT / "work")
    bench.work.mkdir(parents=True, exist_ok=True)
    figures: dict[str, dict] = {}
    errors: dict[str, str] = {}
    try:
        for measure in FIGURES:
            if args.only and measure.__name__ not in args.only:
                continue
            if measure.__name__ in SLOW and not (args.builds or args.only):
                continue
            t0 = time.perf_counter()
            try:
                for figure in measure(bench):
                    figures[figure.key] = figure.as_dict()
            except Exception as exc:  # reported, the other figures still run
                errors[measure.__name__] = f"{type(exc).__name__}: {exc}"
                traceback.print_exc()
            print(f"[bench] {measure.__name__}: {time.perf_counter() - t0:.1f} s",
                  file=sys.stderr)
    finally:
        manager.unload_all()
        cps.close()

    result = {
        "bench": "cjm-docker", "quick": args.quick, "cps_version": cps.version,
        "when": datetime.datetime.now().isoformat(timespec="seconds"),
        "figures": figures, "errors": errors,
        "goals_met": {k: f["goal_met"] for k, f in figures.items() if f["goal"]},
        "seconds": round(time.perf_counter() - started, 1),
        "machine": {"cpus": os.cpu_count(), "load_avg": [round(x, 2) for x in os.getloadavg()],
                    "python": platform.python_version()},
    }
    line = json.dumps(result)
    print(line)
    print(report.table(figures))
    (OUT / ("results-quick.json" if args.quick else "results.json")).write_text(line + "\n")
    args.docs.mkdir(parents=True, exist_ok=True)
    report.chart(figures, args.docs / "bench.png")
    (args.docs / "benchmarks.md").write_text(report.markdown(result, method_notes()))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
