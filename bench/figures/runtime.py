"""Cold start and warm execute: cjm-docker, the bare FastAPI container, 0.0.28's worker.

Cold: load to first result (ours: ``load_plugin`` + ``execute_plugin``; 0.0.28: a new
``RemotePluginProxy`` + ``execute``) against ``docker create+start`` of the same image to its
first HTTP 200 (runtime_bench.cold_floor). Warm: one trivial execute, p50 and p99, against a
POST to the floor's one route over the same Unix-socket transport with a persistent httpx client
(what callers of a plain FastAPI service use). A third figure gives the floor cjm-docker's own
lean client too, so the server sides are compared alone: the worker and host layers against
bare FastAPI, with the client's share taken out. The async row is the same call through
``execute_plugin_async`` on one event loop (what the job queue uses), against the sync p50.
"""

from __future__ import annotations

import asyncio
import time

from floor import FloorServer
from runtime_bench import cold_floor, cold_ours, warm

from figures.common import PLUGIN, Bench, Figure, interleave, median, percentile


def cold_start(bench: Bench) -> list[Figure]:
    got = interleave(bench.n(7, 3), {
        "floor": lambda: cold_floor(bench.engine, bench.image),
        "ours": lambda: cold_ours(bench.manager),
        "cps": lambda: bench.cps.call("cold")["s"],
    })
    figure = Figure("cold_start_s", "Cold start (load to first result)", "s", "lower", "start",
                    median(got["ours"]), median(got["floor"]), median(got["cps"]),
                    goal="<= 1.15 x floor")
    figure.goal_met = figure.ratio(figure.floor) <= 1.15
    figure.extra = {"rounds": len(got["ours"])}
    return [figure]


def warm_async(manager, name: str, body: dict, calls: int,
               loop: asyncio.AbstractEventLoop) -> list[float]:
    """``warm`` for ``execute_plugin_async``: every call timed inside one running loop."""
    async def run() -> list[float]:
        for _ in range(50):
            await manager.execute_plugin_async(name, **body)
        times = []
        for _ in range(calls):
            started = time.perf_counter()
            await manager.execute_plugin_async(name, **body)
            times.append(time.perf_counter() - started)
        return times
    return loop.run_until_complete(run())


def warm_execute(bench: Bench) -> list[Figure]:
    body = {"text": "x", "steps": 1, "record": False}  # a trivial call: no progress, no file
    # Many short rounds, not a few long ones: a sub-millisecond p50 on a shared machine drifts
    # within seconds, and only fine interleaving lets the drift hit every side alike.
    blocks, calls, cps_calls = bench.n(20, 4), bench.n(2000, 400), bench.n(300, 60)
    bench.manager.load_plugin(PLUGIN)
    bench.cps.call("load")
    floor = FloorServer(bench.engine, bench.image)
    loop = asyncio.new_event_loop()
    try:
        floor.start()
        got = interleave(blocks, {
            "floor": lambda: warm(lambda: floor.echo(body), calls // blocks),
            "floor_lean": lambda: warm(lambda: floor.echo_lean(body), calls // blocks),
            "ours": lambda: warm(lambda: bench.manager.execute_plugin(PLUGIN, **body),
                                 calls // blocks),
            "ours_async": lambda: warm_async(bench.manager, PLUGIN, body, calls // blocks, loop),
            "cps": lambda: bench.cps.call("warm", calls=cps_calls // blocks)["times"],
        })
    finally:
        loop.close()
        floor.stop()
        bench.manager.unload_plugin(PLUGIN)
        bench.cps.call("unload")
    times = {side: [t * 1e3 for block in blocks_ for t in block] for side, blocks_ in got.items()}
    p50 = Figure("warm_p50_ms", "Warm trivial execute p50", "ms", "lower", "execute",
                 *(percentile(times[s], 0.5) for s in ("ours", "floor", "cps")),
                 goal="<= floor and >= 30x faster than 0.0.28")
    p50.goal_met = p50.ours <= p50.floor and p50.cps / p50.ours >= 30
    p99 = Figure("warm_p99_ms", "Warm trivial execute p99", "ms", "lower", "execute",
                 *(percentile(times[s], 0.99) for s in ("ours", "floor", "cps")))
    same_client = Figure("warm_p50_same_client_ms", "Warm execute p50, floor on our client",
                         "ms", "lower", "execute", p50.ours, percentile(times["floor_lean"], 0.5),
                         p50.cps)
    async_p50 = Figure("warm_p50_async_ms", "Warm execute p50, async (floor column: sync)",
                       "ms", "lower", "execute", percentile(times["ours_async"], 0.5), p50.ours,
                       p50.cps, goal="<= 1.1 x sync")
    async_p50.goal_met = async_p50.ours <= 1.1 * p50.ours
    for figure in (p50, p99, same_client, async_p50):
        figure.extra = {"calls": {s: len(v) for s, v in times.items()}}
    return [p50, p99, same_client, async_p50]
