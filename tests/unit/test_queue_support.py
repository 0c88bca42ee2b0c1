"""A fake PluginManager for the job queue's unit tests (no Docker), and small helpers.

Each fake plugin behaves as its worker would: one call at a time per container, progress,
cooperative cancel (or not), crashes, a log file sliced by position. What a call does is
driven by keywords: ``sleep`` (seconds), ``steps`` (progress steps over the sleep), ``fail``
(raise with this message), ``crash`` (the container dies), ``log`` (a line to log).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cjm_docker.errors import (
    PluginCallError,
    PluginCancelledError,
    PluginNotLoadedError,
    WorkerCrashedError,
)

COOPERATIVE = "cooperative"  # stops by raising PluginCancelledError (as check_cancel() does)
RAISES = "raises"            # stops by raising some other error once cancelled
RETURNS = "returns"          # stops early and returns a partial result
IGNORES = "ignores"          # never looks at cancel


def run(coro: Any, timeout: float = 30.0) -> Any:
    """Run a coroutine on a fresh event loop, failing the test instead of hanging."""
    async def bounded() -> Any:
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(bounded())


@dataclass
class Config:
    data_dir: Path


class FakeContainer:
    """The worker's own log file, sliced by byte position as the real container does."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()

    def write(self, line: str) -> None:
        with open(self.path, "a") as fh:
            fh.write(line + "\n")

    def log_position(self) -> int:
        return self.path.stat().st_size

    def read_log_since(self, position: int, end: int | None = None) -> str:
        with open(self.path, "rb") as fh:
            fh.seek(position)
            data = fh.read() if end is None else fh.read(max(0, end - position))
        return data.decode()


class FakeProxy:
    """One container generation of a plugin."""

    def __init__(self, name: str, generation: int, behaviour: str, folder: Path):
        self.name = name
        self.generation = generation
        self.behaviour = behaviour
        self.container = FakeContainer(folder / f"{name}-{generation}.log")
        self.progress = {"progress": 0.0, "message": "", "busy": False}
        self.cancel_event = asyncio.Event()
        self.cancels = 0
        self.progress_polls = 0
        self.killed = False

    async def get_progress_async(self) -> dict[str, Any]:
        self.progress_polls += 1
        return dict(self.progress)

    async def cancel_async(self) -> bool:
        self.cancels += 1
        busy = bool(self.progress["busy"])
        if busy:
            self.cancel_event.set()
        return busy


@dataclass
class Call:
    plugin: str
    args: tuple
    kwargs: dict[str, Any]
    generation: int
    started: float = field(default_factory=time.perf_counter)
    ended: float | None = None


class FakeManager:
    """Stands in for PluginManager: execute_plugin_async, get_plugin, restart_plugin_async.

    Args:
        data_dir: where logs (and the default journal) go.
        plugins: plugin name -> cancel behaviour.
        restart_delay: seconds a container replacement takes (spent in a thread).
        record_file: if given, every execute appends its ``job`` keyword there (a JSON line).
    """

    def __init__(self, data_dir: Path, plugins: dict[str, str] | None = None, *,
                 restart_delay: float = 0.2, record_file: Path | None = None):
        self.config = Config(Path(data_dir))
        self.behaviours = dict(plugins or {"echo": COOPERATIVE})
        self.restart_delay = restart_delay
        self.record_file = record_file
        self.proxies = {name: FakeProxy(name, 0, b, self.config.data_dir / "logs")
                        for name, b in self.behaviours.items()}
        self.calls: list[Call] = []
        self.running: dict[str, int] = {}
        self.max_parallel: dict[str, int] = {}
        self.restarts: list[str] = []
        self.block_loop_on_restart = False
        self._lock = threading.Lock()

    def get_plugin(self, name: str) -> FakeProxy | None:
        return self.proxies.get(name)

    def get_plugin_meta(self, name: str) -> None:
        return None   # the queue then keeps the name it was given

    async def restart_plugin_async(self, name: str) -> None:
        old = self.proxies.pop(name)
        old.killed = True
        if self.block_loop_on_restart:
            time.sleep(self.restart_delay)  # what 0.0.x did: a sync reload on the loop
        else:
            await asyncio.to_thread(time.sleep, self.restart_delay)
        self.restarts.append(name)
        self.proxies[name] = FakeProxy(name, old.generation + 1, old.behaviour,
                                       self.config.data_dir / "logs")

    async def execute_plugin_async(self, name: str, *args: Any, **kwargs: Any) -> Any:
        proxy = self.proxies.get(name)
        if proxy is None:
            raise PluginNotLoadedError(f"Plugin '{name}' is not loaded.", plugin=name)
        call = Call(name, args, dict(kwargs), proxy.generation)
        self.calls.append(call)
        if self.record_file is not None and "job" in kwargs:
            with open(self.record_file, "a") as fh:
                fh.write(json.dumps({"job": kwargs["job"], "pid": os.getpid()}) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        self.running[name] = self.running.get(name, 0) + 1
        self.max_parallel[name] = max(self.max_parallel.get(name, 0), self.running[name])
        proxy.progress = {"progress": 0.0, "message": "", "busy": True}
        proxy.cancel_event = asyncio.Event()
        try:
            return await self._work(proxy, args, kwargs)
        finally:
            self.running[name] -= 1
            proxy.progress = {**proxy.progress, "busy": False}
            call.ended = time.perf_counter()

    async def _work(self, proxy: FakeProxy, args: tuple, kwargs: dict[str, Any]) -> Any:
        if "log" in kwargs:
            proxy.container.write(f"[{proxy.name}] {kwargs['log']}")
        sleep = float(kwargs.get("sleep", 0.0))
        steps = max(1, int(kwargs.get("steps", 1)))
        for step in range(steps):
            if sleep > 0:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(proxy.cancel_event.wait(), sleep / steps)
            if proxy.cancel_event.is_set():
                if proxy.behaviour == COOPERATIVE:
                    raise PluginCancelledError("cancelled", plugin=proxy.name)
                if proxy.behaviour == RAISES:
                    raise PluginCallError("KeyboardInterrupt-ish abort", plugin=proxy.name,
                                          remote_type="RuntimeError")
                if proxy.behaviour == RETURNS:
                    return {"partial": step}
                await asyncio.sleep(sleep)  # IGNORES: carries on, whatever it was told
                proxy.cancel_event.clear()
            proxy.progress = {"progress": (step + 1) / steps, "message": f"step {step + 1}",
                              "busy": True}
        if kwargs.get("crash"):
            raise WorkerCrashedError(f"Plugin '{proxy.name}' crashed during execute.",
                                     plugin=proxy.name, exit_code=137)
        if "fail" in kwargs:
            raise PluginCallError(str(kwargs["fail"]), plugin=proxy.name,
                                  remote_type="ValueError")
        if "log" in kwargs:
            proxy.container.write(f"[{proxy.name}] done {kwargs['log']}")
        return {"args": list(args), "generation": proxy.generation}
