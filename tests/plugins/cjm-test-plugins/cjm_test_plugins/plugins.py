"""Plugins that exercise every path of the runtime: slow calls, crashes, bad streams, files."""

from __future__ import annotations

import ctypes
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cjm_docker.interface import PluginInterface
from cjm_docker.validation import SCHEMA_MAX, SCHEMA_MIN, dataclass_to_jsonschema, dict_to_config


@dataclass
class WorkbenchConfig:
    """Workbench settings."""

    greeting: str = "hello"
    repeat: int = field(default=1, metadata={SCHEMA_MIN: 1, SCHEMA_MAX: 10})


class Workbench(PluginInterface):
    """Echoes, sleeps, streams, writes data, reads files and dies on request."""

    def __init__(self) -> None:
        self.config = WorkbenchConfig()
        self.cleaned = False

    @property
    def name(self) -> str:
        return "cjm-test-workbench"

    @property
    def version(self) -> str:
        return "0.1.0"

    def initialize(self, config: dict[str, Any] | None = None) -> None:
        self.config = dict_to_config(WorkbenchConfig, config or {})

    def get_config_schema(self) -> dict[str, Any]:
        return dataclass_to_jsonschema(WorkbenchConfig)

    def get_current_config(self) -> dict[str, Any]:
        return {"greeting": self.config.greeting, "repeat": self.config.repeat}

    def cleanup(self) -> None:
        marker = os.environ.get("CJM_PLUGIN_DATA_DIR")
        if marker:
            with Path(marker, "cleanup.log").open("a") as fh:
                fh.write(f"cleanup {os.getpid()}\n")

    def execute(self, action: str = "echo", **kw: Any) -> Any:
        return getattr(self, f"do_{action}")(**kw)

    def execute_stream(self, action: str = "count", **kw: Any):
        n = int(kw.get("n", 3))
        for i in range(n):
            if kw.get("fail_at") == i:
                raise RuntimeError(f"stream broke at {i}")
            yield {"i": i}
            if kw.get("delay"):
                time.sleep(float(kw["delay"]))

    # -- actions ------------------------------------------------------------------------------

    def do_echo(self, text: str = "", **_: Any) -> dict[str, Any]:
        return {"text": f"{self.config.greeting} {text}" * self.config.repeat,
                "env_flag": os.environ.get("WORKBENCH_FLAG"), "uid": os.getuid(), "pid": os.getpid(),
                "hostname": os.uname().nodename}

    def do_sleep(self, seconds: float = 5.0, cooperative: bool = True, **_: Any) -> dict[str, Any]:
        steps = max(1, int(seconds * 20))
        for i in range(steps):
            if cooperative:
                self.check_cancel()
            self.report_progress((i + 1) / steps, f"step {i + 1}/{steps}")
            time.sleep(seconds / steps)
        return {"slept": seconds}

    def do_raise(self, message: str = "boom", **_: Any) -> None:
        raise ValueError(message)

    def do_exit(self, code: int = 7, **_: Any) -> None:
        os._exit(code)

    def do_segfault(self, **_: Any) -> None:
        ctypes.string_at(0)

    def do_allocate(self, mb: int = 100, hold: float = 0.0, **_: Any) -> dict[str, Any]:
        block = bytearray(mb * 1024 * 1024)
        for i in range(0, len(block), 4096):
            block[i] = 1
        time.sleep(hold)
        return {"allocated_mb": mb}

    def do_write_data(self, key: str = "k", value: str = "v", **_: Any) -> str:
        folder = Path(os.environ["CJM_PLUGIN_DATA_DIR"])
        (folder / f"{key}.txt").write_text(value)
        return str(folder / f"{key}.txt")

    def do_read_data(self, key: str = "k", **_: Any) -> str | None:
        path = Path(os.environ["CJM_PLUGIN_DATA_DIR"]) / f"{key}.txt"
        return path.read_text() if path.exists() else None

    def do_file_size(self, path: str = "", **_: Any) -> dict[str, Any]:
        return {"path": path, "size": os.path.getsize(path)}

    def do_whoami(self, **_: Any) -> dict[str, Any]:
        status = Path("/proc/self/status").read_text()
        caps = [line for line in status.splitlines() if line.startswith(("CapEff", "NoNewPrivs"))]
        return {"uid": os.getuid(), "gid": os.getgid(), "caps": caps,
                "env_keys": sorted(os.environ), "data_dir": os.environ.get("CJM_DATA_DIR")}

    def do_try_read(self, path: str = "", **_: Any) -> str:
        try:
            return Path(path).read_text()[:100]
        except OSError as exc:
            return f"denied: {type(exc).__name__}"


    def do_write_file(self, path: str = "", mb: int = 1, **_: Any) -> int:
        with open(path, "wb") as fh:
            for _i in range(mb):
                fh.write(b"\0" * 1024 * 1024)
        return mb

    def do_try_write(self, path: str = "", **_: Any) -> str:
        try:
            Path(path).write_text("x")
            return "written"
        except OSError as exc:
            return f"denied: {type(exc).__name__}"


class BrokenImport(PluginInterface):  # pragma: no cover - never instantiated
    """Its module fails at import: see ``broken``."""


class FailingInit(Workbench):
    """initialize() raises."""

    def initialize(self, config: dict[str, Any] | None = None) -> None:
        raise RuntimeError("cannot initialize: model file missing")
