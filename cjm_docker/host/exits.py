"""How containers ended, from the engine's own events.

Plugin containers remove themselves when they stop (``--rm``), so that a worker whose host died
leaves nothing behind; their exit code and the OOM killer's verdict are therefore taken from the
engine's ``die`` and ``oom`` events, which one background subscription per host process records.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from cjm_docker import labels
from cjm_docker.engine import Engine
from cjm_docker.errors import CjmDockerError


@dataclass(frozen=True)
class ContainerExit:
    """A container's end: its exit code and whether the OOM killer stopped it."""

    exit_code: int | None
    oom_killed: bool


class ExitRecorder:
    """Records die/oom events of this process's containers on a daemon thread."""

    def __init__(self, engine: Engine, owner_pid: int):
        self._engine = engine
        self._selector = {labels.OWNER_PID: str(owner_pid)}
        self._events = engine.container_events(self._selector)
        self._exits: dict[str, ContainerExit] = {}
        self._oom: set[str] = set()
        self._changed = threading.Condition()
        threading.Thread(target=self._run, name="cjm-exits", daemon=True).start()

    def _run(self) -> None:
        while True:
            self._consume()
            # The stream ended: the engine restarted or the connection dropped. Subscribe again
            # (events in the gap are lost; such exits read as "removed from outside").
            while True:
                time.sleep(1.0)
                try:
                    self._events = self._engine.container_events(self._selector)
                    break
                except CjmDockerError:
                    continue

    def _consume(self) -> None:
        for event in self._events:
            container_id = event.get("id") or event.get("Actor", {}).get("ID", "")
            with self._changed:
                if event.get("status") == "oom" or event.get("Action") == "oom":
                    self._oom.add(container_id)
                else:
                    code = (event.get("Actor", {}).get("Attributes") or {}).get("exitCode")
                    self._exits[container_id] = ContainerExit(
                        int(code) if code not in (None, "") else None, container_id in self._oom)
                self._changed.notify_all()

    def exit_of(self, container_id: str, wait: float = 0.0) -> ContainerExit | None:
        """The recorded end of ``container_id``, waiting up to ``wait`` seconds for it."""
        with self._changed:
            self._changed.wait_for(lambda: container_id in self._exits, timeout=wait)
            return self._exits.get(container_id)

    def forget(self, container_id: str) -> None:
        with self._changed:
            self._exits.pop(container_id, None)
            self._oom.discard(container_id)


_recorders: dict[tuple[int, int], ExitRecorder] = {}
_lock = threading.Lock()


def exit_recorder(engine: Engine, owner_pid: int) -> ExitRecorder:
    """The process-wide recorder for an engine (subscribed before the first container starts)."""
    key = (id(engine), owner_pid)
    with _lock:
        recorder = _recorders.get(key)
        if recorder is None:
            recorder = _recorders[key] = ExitRecorder(engine, owner_pid)
        return recorder
