"""Runs inside the cjm-plugin-system 0.0.28 venv: their proxy and worker, driven over stdin.

    <cps-venv>/bin/python cps_driver.py MANIFEST_JSON

One JSON request a line on stdin (``{"op": ..., ...}``), one JSON answer a line on stdout. Their
proxy prints to stdout, so the protocol gets its own copy of the original stdout and everything
else goes to stderr. Timings are taken here, in the same process as their proxy, as a host
application would see them.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import threading
import time

import psutil
from cjm_plugin_system.core.proxy import RemotePluginProxy

PROTOCOL = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)
sys.stdout = sys.stderr


class PathDTO:
    """A FileBackedDTO whose file already exists: ``to_temp_file`` returns its path."""

    def __init__(self, path: str):
        self.path = path

    def to_temp_file(self) -> str:
        return self.path


class Driver:
    def __init__(self, manifest: dict):
        self.manifest = manifest
        self.proxy: RemotePluginProxy | None = None

    def cold(self) -> dict:
        started = time.perf_counter()
        proxy = RemotePluginProxy(self.manifest)
        try:
            proxy.execute(text="x", steps=1, record=False)
            return {"s": time.perf_counter() - started}
        finally:
            proxy.cleanup()

    def load(self) -> dict:
        if self.proxy is None:
            self.proxy = RemotePluginProxy(self.manifest)
            self.proxy.execute(text="x", steps=1, record=False)
        return {"pid": self.proxy.process.pid}

    def warm(self, calls: int, warmup: int = 10) -> dict:
        for _ in range(warmup):
            self.proxy.execute(text="x", steps=1, record=False)
        times = []
        for _ in range(calls):
            started = time.perf_counter()
            self.proxy.execute(text="x", steps=1, record=False)
            times.append(time.perf_counter() - started)
        return {"times": times}

    def stream(self, text: str) -> dict:
        async def consume() -> int:
            count = 0
            async for _ in self.proxy.execute_stream(text=text):
                count += 1
            return count
        started = time.perf_counter()
        count = asyncio.run(consume())
        return {"chunks": count, "s": time.perf_counter() - started}

    def file(self, path: str) -> dict:
        started = time.perf_counter()
        result = self.proxy.execute(text=PathDTO(path))
        return {"s": time.perf_counter() - started, "echoed": result["text"] == path}

    def memory(self, samples: int = 5) -> dict:
        process = psutil.Process(self.proxy.process.pid)
        values = []
        for _ in range(samples):
            rss = process.memory_info().rss + sum(
                c.memory_info().rss for c in process.children(recursive=True))
            values.append(rss / 2**20)
            time.sleep(0.2)
        return {"mb": statistics.median(values)}

    def many(self, count: int) -> dict:
        proxies: list[RemotePluginProxy] = []
        errors: list[str] = []
        lock = threading.Lock()

        def one() -> None:
            try:
                proxy = RemotePluginProxy(dict(self.manifest))
                with lock:
                    proxies.append(proxy)
                proxy.execute(text="x", steps=1, record=False)
            except Exception as exc:  # counted, reported
                errors.append(repr(exc))

        started = time.perf_counter()
        threads = [threading.Thread(target=one) for _ in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        for proxy in proxies:
            proxy.cleanup()
        return {"s": elapsed, "errors": errors}

    def unload(self) -> dict:
        if self.proxy is not None:
            self.proxy.cleanup()
            self.proxy = None
        return {}


def main() -> None:
    driver = Driver(json.loads(sys.argv[1]))
    try:
        for line in sys.stdin:
            request = json.loads(line)
            op = request.pop("op")
            if op == "quit":
                break
            try:
                answer = getattr(driver, op)(**request)
            except Exception as exc:
                answer = {"error": repr(exc)}
            PROTOCOL.write(json.dumps(answer) + "\n")
    finally:
        driver.unload()


if __name__ == "__main__":
    main()
