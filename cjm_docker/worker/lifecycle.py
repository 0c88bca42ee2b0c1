"""The worker's lifecycle: an enum of states and the only transitions allowed between them."""

from __future__ import annotations

import threading
from enum import Enum

from cjm_docker.wire import WorkerState


class HostState(str, Enum):
    """Where the hosted plugin is in its life."""

    STARTING = "starting"  # bound and answering /health; plugin importing on the plugin thread
    READY = "ready"        # loaded and idle: calls run at once
    BUSY = "busy"          # a plugin call runs on the plugin thread; more calls queue behind it
    FAILED = "failed"      # terminal: the plugin could not be loaded (the process exits with 3)
    STOPPING = "stopping"  # terminal: shutdown began; cleanup runs and new calls are refused

    @property
    def wire(self) -> WorkerState:
        """The state /health reports (the same names)."""
        return WorkerState(self.value)

    @property
    def accepts_calls(self) -> bool:
        """Whether a plugin call may be queued in this state."""
        return self in (HostState.READY, HostState.BUSY)


_ALLOWED: dict[HostState, frozenset[HostState]] = {
    HostState.STARTING: frozenset({HostState.READY, HostState.FAILED, HostState.STOPPING}),
    HostState.READY: frozenset({HostState.BUSY, HostState.STOPPING}),
    HostState.BUSY: frozenset({HostState.READY, HostState.STOPPING}),
    HostState.FAILED: frozenset(),
    HostState.STOPPING: frozenset(),
}


class Lifecycle:
    """The current HostState, changed only along the allowed transitions (thread-safe)."""

    def __init__(self) -> None:
        self._state = HostState.STARTING
        self._lock = threading.Lock()

    @property
    def state(self) -> HostState:
        """The current state."""
        return self._state

    def can_move(self, target: HostState) -> bool:
        """Whether ``target`` is reachable from the current state in one step."""
        return target in _ALLOWED[self._state]

    def try_move(self, target: HostState) -> bool:
        """Move to ``target`` if allowed; return whether it moved.

        Races are expected here: a call may end after shutdown began (BUSY was replaced by
        STOPPING), and then it must not bring the worker back to READY.
        """
        with self._lock:
            if target not in _ALLOWED[self._state]:
                return False
            self._state = target
            return True

    def move(self, target: HostState) -> None:
        """Move to ``target``; a disallowed transition is a bug.

        Raises:
            RuntimeError: the transition is not allowed from the current state.
        """
        with self._lock:
            if target not in _ALLOWED[self._state]:
                raise RuntimeError(f"worker state cannot go from {self._state.value} "
                                   f"to {target.value}")
            self._state = target

    def stop(self) -> HostState:
        """Enter STOPPING from any live state; return the state it was in."""
        with self._lock:
            previous = self._state
            if HostState.STOPPING in _ALLOWED[previous]:
                self._state = HostState.STOPPING
            return previous
