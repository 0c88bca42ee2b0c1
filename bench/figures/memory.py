"""Idle worker memory, after a few calls and a second of rest.

Ours: ``get_plugin_stats`` (``memory_usage_mb``: the container's memory as `docker stats` shows
it). The floor: the same figure read from the bare FastAPI container. 0.0.28: the RSS of its
worker process and its children (psutil), the same quantity its own ``/stats`` reports.
"""

from __future__ import annotations

import time

from floor import FloorServer

from cjm_docker.telemetry.containers import stats_from_document
from figures.common import PLUGIN, Bench, Figure, median


def _samples(read, count: int = 5) -> list[float]:
    values = []
    for _ in range(count):
        values.append(read())
        time.sleep(0.2)
    return values


def idle_memory(bench: Bench) -> list[Figure]:
    bench.manager.load_plugin(PLUGIN)
    bench.cps.call("load")
    floor = FloorServer(bench.engine, bench.image)
    try:
        floor.start()
        for _ in range(20):
            floor.echo({"text": "x"})
            bench.manager.execute_plugin(PLUGIN, text="x")
        bench.cps.call("warm", calls=20, warmup=0)
        time.sleep(1.0)

        def floor_mb() -> float:
            doc = bench.engine.container_stats(floor.container_id)
            return stats_from_document(doc).memory_usage_mb

        ours = _samples(lambda: bench.manager.get_plugin_stats(PLUGIN)["memory_usage_mb"])
        floors = _samples(floor_mb)
        cps = bench.cps.call("memory")["mb"]
    finally:
        floor.stop()
        bench.manager.unload_plugin(PLUGIN)
        bench.cps.call("unload")
    figure = Figure("idle_memory_mb", "Idle worker memory", "MiB", "lower", "memory",
                    median(ours), median(floors), cps)
    figure.extra = {"ours_measure": "container memory (docker stats)",
                    "cps_measure": "worker RSS incl. children (psutil)"}
    return [figure]
