"""A 100 MB FileBackedDTO: only its path crosses, against a plain copy of the same file.

Ours: ``execute_plugin(text=dto)`` where ``dto.to_temp_file()`` returns an existing 100 MB file:
the caller's original, which the host never links or exposes. It copies it once into its
private cache and hard-links that copy into the container's own exchange folder; later calls
with the unchanged file cost the link (the median shows those; the first call, the copy). 0.0.28 sends the path string as is (host and worker share the filesystem). The floor is
``shutil.copyfile`` of the file: what moving the bytes to the plugin costs without a shared path.
"""

from __future__ import annotations

import os
import shutil
import time

from figures.common import PLUGIN, Bench, Figure, interleave, median

SIZE = 100 * 2**20


class PathDTO:
    """A FileBackedDTO whose file already exists."""

    def __init__(self, path: str):
        self.path = path

    def to_temp_file(self) -> str:
        return self.path


def file_dto(bench: Bench) -> list[Figure]:
    folder = bench.work / "dto"
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "payload-100mb.bin"
    if not source.exists() or source.stat().st_size != SIZE:
        with open(source, "wb") as fh:
            for _ in range(100):
                fh.write(os.urandom(2**20))
    target = folder / "copy.bin"
    dto = PathDTO(str(source))

    def floor() -> float:
        started = time.perf_counter()
        shutil.copyfile(source, target)
        elapsed = time.perf_counter() - started
        target.unlink()
        return elapsed

    def ours() -> float:
        started = time.perf_counter()
        result = bench.manager.execute_plugin(PLUGIN, text=dto)
        elapsed = time.perf_counter() - started
        if not result["text"].endswith(source.name):
            raise RuntimeError(f"the plugin did not get the file's path: {result['text']!r}")
        return elapsed

    def cps() -> float:
        answer = bench.cps.call("file", path=str(source))
        if not answer["echoed"]:
            raise RuntimeError("0.0.28 did not get the file's path")
        return answer["s"]

    bench.manager.load_plugin(PLUGIN)
    bench.cps.call("load")
    try:
        got = interleave(bench.n(7, 3), {"floor": floor, "ours": ours, "cps": cps})
    finally:
        bench.manager.unload_plugin(PLUGIN)
        bench.cps.call("unload")
        source.unlink(missing_ok=True)
    exchange = bench.config.exchange_dir
    exchange.mkdir(parents=True, exist_ok=True)
    linked = os.stat(folder).st_dev == os.stat(exchange).st_dev
    figure = Figure("file_dto_100mb_s", "100 MB FileBackedDTO execute", "s", "lower", "data",
                    median(got["ours"]), median(got["floor"]), median(got["cps"]))
    figure.extra = {"bytes": SIZE, "exchange": "hard link" if linked else "copy"}
    return [figure]
