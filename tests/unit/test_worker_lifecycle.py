"""The worker's state machine: only the allowed transitions, and what /health reports."""

from __future__ import annotations

import pytest

from cjm_docker.wire import WorkerState
from cjm_docker.worker.lifecycle import HostState, Lifecycle


def test_happy_path() -> None:
    lifecycle = Lifecycle()
    assert lifecycle.state is HostState.STARTING
    lifecycle.move(HostState.READY)
    lifecycle.move(HostState.BUSY)
    lifecycle.move(HostState.READY)
    assert lifecycle.state.accepts_calls


@pytest.mark.parametrize(("start_path", "target"), [
    ([], HostState.BUSY),                                   # no calls before loading
    ([HostState.FAILED], HostState.READY),                  # failed is terminal
    ([HostState.READY, HostState.STOPPING], HostState.READY),  # stopping is terminal
])
def test_disallowed_transitions_raise(start_path: list[HostState], target: HostState) -> None:
    lifecycle = Lifecycle()
    for state in start_path:
        lifecycle.move(state)
    assert not lifecycle.can_move(target)
    with pytest.raises(RuntimeError, match="cannot go from"):
        lifecycle.move(target)
    assert lifecycle.try_move(target) is False


def test_a_call_ending_after_shutdown_began_does_not_revive_the_worker() -> None:
    lifecycle = Lifecycle()
    lifecycle.move(HostState.READY)
    lifecycle.move(HostState.BUSY)
    assert lifecycle.stop() is HostState.BUSY
    assert lifecycle.try_move(HostState.READY) is False
    assert lifecycle.state is HostState.STOPPING


def test_stop_leaves_failed_alone() -> None:
    lifecycle = Lifecycle()
    lifecycle.move(HostState.FAILED)
    assert lifecycle.stop() is HostState.FAILED
    assert lifecycle.state is HostState.FAILED


def test_health_reports_only_wire_states() -> None:
    assert {state.wire for state in HostState} <= set(WorkerState)
    assert HostState.STOPPING.wire is WorkerState.STOPPING
    assert not HostState.STOPPING.accepts_calls and not HostState.STARTING.accepts_calls
