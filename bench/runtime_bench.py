"""Runtime figures against the floor measured in the same run.

    python bench/runtime_bench.py [--data-dir DIR] [--rounds N] [--calls N]

Needs the example plugins installed (`cjm-ctl install-all`). Prints one JSON line:
cold start (load to first result) vs a bare container's first HTTP answer, warm execute p50/p99
vs a bare FastAPI round trip over the same Unix-socket transport, and their ratios.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from floor import FloorServer  # noqa: E402

from cjm_docker.config import load_config  # noqa: E402
from cjm_docker.engine import Engine  # noqa: E402
from cjm_docker.host.manager import PluginManager  # noqa: E402

PLUGIN = "cjm-example-echo"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cold_ours(manager: PluginManager) -> float:
    started = time.perf_counter()
    manager.load_plugin(PLUGIN)
    manager.execute_plugin(PLUGIN, text="x", steps=1, record=False)
    elapsed = time.perf_counter() - started
    manager.unload_plugin(PLUGIN)
    return elapsed


def cold_floor(engine: Engine, image: str) -> float:
    floor = FloorServer(engine, image)
    try:
        return floor.start()
    finally:
        floor.stop()


def warm(call, calls: int) -> list[float]:
    for _ in range(50):
        call()
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=2000)
    options = parser.parse_args()
    config = load_config(data_dir=options.data_dir)
    engine = Engine()
    manager = PluginManager(search_paths=[config.manifests_dir], config=config, engine=engine)
    meta = manager.discover_manifests() and manager.get_discovered_meta(PLUGIN)
    if meta is None:
        sys.exit(f"{PLUGIN} is not installed in {config.data_dir}: run cjm-ctl install-all first.")
    image = meta.manifest["image"]

    ours_cold, floor_cold = [], []
    for _ in range(options.rounds):   # interleaved, so drift hits both alike
        floor_cold.append(cold_floor(engine, image))
        ours_cold.append(cold_ours(manager))

    manager.load_plugin(PLUGIN)
    floor = FloorServer(engine, image)
    floor.start()
    try:
        body = {"text": "x", "steps": 1, "record": False}
        ours_warm, floor_warm = [], []
        for _ in range(4):
            floor_warm += warm(lambda: floor.echo(body), options.calls // 4)
            ours_warm += warm(lambda: manager.execute_plugin(PLUGIN, **body), options.calls // 4)
    finally:
        floor.stop()
        manager.unload_all()

    figures = {
        "cold_start_s": {"ours_median": statistics.median(ours_cold),
                         "floor_median": statistics.median(floor_cold)},
        "warm_execute_ms": {"ours_p50": percentile(ours_warm, 0.5) * 1e3,
                            "ours_p99": percentile(ours_warm, 0.99) * 1e3,
                            "floor_p50": percentile(floor_warm, 0.5) * 1e3,
                            "floor_p99": percentile(floor_warm, 0.99) * 1e3},
    }
    figures["cold_start_s"]["ratio"] = (figures["cold_start_s"]["ours_median"]
                                        / figures["cold_start_s"]["floor_median"])
    figures["warm_execute_ms"]["ratio_p50"] = (figures["warm_execute_ms"]["ours_p50"]
                                               / figures["warm_execute_ms"]["floor_p50"])
    print(json.dumps({k: {n: round(v, 4) for n, v in d.items()} for k, d in figures.items()}))


if __name__ == "__main__":
    main()
