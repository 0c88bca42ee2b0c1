"""Streaming: chunks per second of one long stream (the echo plugin yields the words of text).

Ours through ``execute_plugin_stream_sync`` and through the async ``execute_plugin_stream``;
the floor a bare FastAPI NDJSON route (async generator, one JSON line per word) over the same
Unix socket; 0.0.28 through its async ``execute_stream`` (its sync one is a stub).
"""

from __future__ import annotations

import asyncio
import time

from floor import FloorServer

from figures.common import PLUGIN, Bench, Figure, interleave, median


def _rate(count: int, seconds: float, expected: int) -> float:
    if count != expected:
        raise RuntimeError(f"stream delivered {count} chunks, expected {expected}")
    return count / seconds


def streaming(bench: Bench) -> list[Figure]:
    chunks = bench.n(100_000, 20_000)
    text = "w " * chunks
    body = {"text": text}
    manager = bench.manager

    def ours_sync() -> float:
        started = time.perf_counter()
        count = sum(1 for _ in manager.execute_plugin_stream_sync(PLUGIN, text=text))
        return _rate(count, time.perf_counter() - started, chunks)

    def ours_async() -> float:
        async def consume() -> int:
            count = 0
            async for _ in manager.execute_plugin_stream(PLUGIN, text=text):
                count += 1
            return count
        started = time.perf_counter()
        count = asyncio.run(consume())
        return _rate(count, time.perf_counter() - started, chunks)

    def cps() -> float:
        answer = bench.cps.call("stream", text=text)
        return _rate(answer["chunks"], answer["s"], chunks)

    manager.load_plugin(PLUGIN)
    bench.cps.call("load")
    floor = FloorServer(bench.engine, bench.image)
    try:
        floor.start()
        floor.stream({"text": "w w"})
        list(manager.execute_plugin_stream_sync(PLUGIN, text="w w"))  # warm-up

        def floor_rate() -> float:
            started = time.perf_counter()
            return _rate(floor.stream(body), time.perf_counter() - started, chunks)

        got = interleave(bench.n(3, 1), {"floor": floor_rate, "ours_sync": ours_sync,
                                         "ours_async": ours_async, "cps": cps})
    finally:
        floor.stop()
        manager.unload_plugin(PLUGIN)
        bench.cps.call("unload")
    figures = []
    for key, label, side in (("stream_sync_chunks_per_s", "Streaming, sync iterator", "ours_sync"),
                             ("stream_async_chunks_per_s", "Streaming, async iterator",
                              "ours_async")):
        figure = Figure(key, label, "chunks/s", "higher", "stream", median(got[side]),
                        median(got["floor"]), median(got["cps"]), goal=">= 4x 0.0.28")
        figure.goal_met = figure.ratio(figure.cps) >= 4
        figure.extra = {"chunks": chunks, "rounds": len(got[side])}
        figures.append(figure)
    return figures
