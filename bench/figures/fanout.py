"""Twenty plugins started at once, until every one has answered its first call.

A plugin of ours that fails to start counts in ``ours_failed`` (shown in the table); the time
is then until every one answered or failed.

Ours: 20 manifests of the echo image under 20 names, each loaded and executed once from its own
thread (``load_all`` caps its pool at 8; here all 20 go at once, as on the other sides). The
floor: 20 bare FastAPI containers of the same image started from 20 threads, each to its first
HTTP 200. 0.0.28: 20 ``RemotePluginProxy`` workers from 20 threads, each to its first result.
"""

from __future__ import annotations

import json
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

from floor import FloorServer

from cjm_docker.host.manager import PluginManager
from figures.common import PLUGIN, Bench, Figure, interleave, median

COUNT = 20


def _manifests(bench: Bench) -> PluginManager:
    folder = bench.work / "fanout-manifests"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    manifest = json.loads((bench.config.manifests_dir / f"{PLUGIN}.json").read_text())
    for i in range(COUNT):
        name = f"bench-fanout-{i:02d}"
        (folder / f"{name}.json").write_text(json.dumps({**manifest, "name": name}))
    manager = PluginManager(search_paths=[folder], config=bench.config, engine=bench.engine)
    manager.discover_manifests()
    return manager


def fanout(bench: Bench) -> list[Figure]:
    manager = _manifests(bench)
    names = [f"bench-fanout-{i:02d}" for i in range(COUNT)]

    failures: list[str] = []

    def ours() -> float:
        def one(name: str) -> None:
            try:
                manager.load_plugin(name)
                manager.execute_plugin(name, text="x")
            except Exception as exc:  # counted and shown in the table, not hidden
                failures.append(f"{name}: {type(exc).__name__}: {exc}")
        try:
            started = time.perf_counter()
            with ThreadPoolExecutor(COUNT) as pool:
                list(pool.map(one, names))
            return time.perf_counter() - started
        finally:
            manager.unload_all()

    def floor() -> float:
        servers = [FloorServer(bench.engine, bench.image) for _ in range(COUNT)]
        try:
            started = time.perf_counter()
            with ThreadPoolExecutor(COUNT) as pool:
                list(pool.map(lambda s: s.start(), servers))
            return time.perf_counter() - started
        finally:
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda s: s.stop(), servers))

    def cps() -> float:
        answer = bench.cps.call("many", count=COUNT)
        if answer["errors"]:
            raise RuntimeError(f"0.0.28 workers failed: {answer['errors'][:3]}")
        return answer["s"]

    got = interleave(bench.n(3, 1), {"floor": floor, "ours": ours, "cps": cps})
    figure = Figure("fanout_20_s", f"{COUNT} plugins started at once", "s", "lower", "start",
                    median(got["ours"]), median(got["floor"]), median(got["cps"]))
    figure.extra = {"rounds": len(got["ours"]), "ours_failed": len(failures),
                    "ours_failures": failures[:3]}
    return [figure]
