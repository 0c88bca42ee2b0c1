"""Each action is one attack; it returns what it could do (``ok``) or why not (``denied: ...``).
The tests judge the outcome on the host, not by these answers alone."""

from __future__ import annotations

import gc
import os
import threading
import time
from pathlib import Path
from typing import Any

from cjm_docker.interface import PluginInterface


def _write(path: Path, data: str) -> None:
    path.write_text(data)


def _swap_for_link(link: str, target: str) -> None:
    temporary = link + ".planting"
    os.symlink(target, temporary)
    os.replace(temporary, link)


def _try(action) -> str:
    try:
        result = action()
    except OSError as exc:
        return f"denied: {type(exc).__name__}: {exc.strerror}"
    return "ok" if result is None else str(result)


class Hostile(PluginInterface):
    """Tries to read, write, link, renew and fill what it should not."""

    @property
    def name(self) -> str:
        return os.environ.get("HOSTILE_NAME", "cjm-test-hostile")

    @property
    def version(self) -> str:
        return "0.1.0"

    def initialize(self, config: dict[str, Any] | None = None) -> None:
        pass

    def get_config_schema(self) -> dict[str, Any]:
        return {"type": "object", "properties": {}}

    def get_current_config(self) -> dict[str, Any]:
        return {}

    def cleanup(self) -> None:
        pass

    def execute(self, action: str = "read", **kw: Any) -> Any:
        return getattr(self, f"do_{action}")(**kw)

    # -- reading and writing what is not its own -------------------------------------------------

    def do_read(self, path: str = "", **_: Any) -> str:
        return _try(lambda: Path(path).read_text()[:200])

    def do_write(self, path: str = "", data: str = "pwned", **_: Any) -> str:
        return _try(lambda: _write(Path(path), data))

    def do_list(self, path: str = "", **_: Any) -> str:
        return _try(lambda: sorted(os.listdir(path)))

    def do_tamper(self, path: str = "", **_: Any) -> dict[str, str]:
        """Everything one can do to a file handed over: rewrite, replace, chmod, add beside."""
        target = Path(path)
        return {
            "read": _try(lambda: target.read_text()[:50]),
            "rewrite": _try(lambda: _write(target, "forged")),
            "chmod": _try(lambda: os.chmod(target, 0o777)),
            "replace": _try(lambda: os.replace(target, target.with_name("moved"))),
            "unlink": _try(lambda: os.unlink(target)),
            "beside": _try(lambda: _write(target.with_name("planted"), "x")),
            "symlink": _try(lambda: os.symlink("/etc/shadow", target.with_name("link"))),
        }

    def do_plant_link(self, link: str = "", target: str = "", **_: Any) -> str:
        """Swap ``link`` (e.g. its worker.log) for a symlink to ``target``."""
        return _try(lambda: _swap_for_link(link, target))

    def do_fill(self, path: str = "", mb: int = 300, **_: Any) -> str:
        """Write ``mb`` MiB into ``path``, a MiB at a time, flushed."""
        block = b"\0" * 2**20
        with open(path, "wb") as fh:
            for _i in range(mb):
                fh.write(block)
                fh.flush()
                time.sleep(0.01)
        return f"wrote {mb} MiB"

    def do_uid(self, **_: Any) -> int:
        return os.getuid()

    def do_exit(self, code: int = 9, **_: Any) -> None:
        os._exit(code)

    # -- its lease ---------------------------------------------------------------------------------

    def do_keep_alive(self, lease: str = "", **_: Any) -> dict[str, str]:
        """Switch off the worker's own lease watcher and renew the lease file itself."""
        stopped = 0
        for obj in gc.get_objects():
            if type(obj).__name__ == "LeaseWatcher":
                obj.stop()
                stopped += 1
        renewed = _try(lambda: os.utime(lease))

        def renew_forever() -> None:
            while True:
                _try(lambda: os.utime(lease))
                time.sleep(0.5)

        threading.Thread(target=renew_forever, daemon=True).start()
        return {"watchers_stopped": str(stopped), "renew": renewed,
                "replace": _try(lambda: _write(Path(lease), "x"))}
