"""Shutdown in-process: cleanup on the plugin thread, stuck calls, the grace period, signals."""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

from cjm_docker.worker.calls import CallKind
from cjm_docker.worker.shutdown import Shutdown
from tests.fixtures.worker_harness import loaded_host


def test_shutdown_runs_cleanup_on_the_plugin_thread() -> None:
    host = loaded_host("EchoPlugin")
    seen: list[int | None] = []
    host.plugin.cleanup = lambda: seen.append(threading.get_ident())
    assert host.shutdown(timeout=2) is True
    assert seen == [host._thread.ident]
    assert host.state.value == "stopping"
    host.close()


def test_no_second_cleanup_after_an_explicit_one() -> None:
    host = loaded_host("EchoPlugin")
    host.submit(CallKind.CLEANUP, lambda plugin, call: plugin.cleanup()).result(timeout=2)
    host._needs_cleanup = False  # what the /cleanup handler records
    assert host.shutdown(timeout=2) is True
    assert host.plugin.cleaned == 1
    host.close()


def test_a_running_call_is_asked_to_cancel_before_cleanup() -> None:
    host = loaded_host("SlowPlugin")
    call = host.submit(CallKind.EXECUTE,
                       lambda plugin, call: plugin.execute(seconds=60, steps=360))
    while not host.busy:
        time.sleep(0.005)
    started = time.monotonic()
    assert host.shutdown(timeout=20) is True
    # Ended by its cancel check (~0.2 s), not by the 10 s (half the timeout) allowed to a call.
    assert time.monotonic() - started < 10
    assert call.exception(timeout=10) is not None  # it stopped by cancellation
    assert host.plugin.cleaned == 1
    host.close()


def test_a_stuck_call_does_not_stop_cleanup() -> None:
    host = loaded_host("StuckPlugin")
    host.submit(CallKind.EXECUTE, lambda plugin, call: plugin.execute())
    while not host.busy:
        time.sleep(0.005)
    started = time.monotonic()
    assert host.shutdown(timeout=1.0) is True  # cleanup ran beside the stuck execute
    assert 0.4 < time.monotonic() - started < 10  # the call got its half; it is stuck forever
    assert host.plugin.cleaned == 1


def test_a_cleanup_that_hangs_reports_false_within_the_timeout() -> None:
    host = loaded_host("EchoPlugin")
    host.plugin.cleanup = lambda: time.sleep(10)
    started = time.monotonic()
    assert host.shutdown(timeout=0.5) is False
    assert time.monotonic() - started < 5  # the cleanup takes 10 s


def test_new_calls_are_refused_once_stopping() -> None:
    host = loaded_host("EchoPlugin")
    host.shutdown(timeout=1)
    try:
        host.submit(CallKind.EXECUTE, lambda plugin, call: None)
    except Exception as exc:
        assert getattr(exc, "status", None) == 503
        assert "shutting down" in str(exc)
    else:
        raise AssertionError("a call was accepted while stopping")
    host.close()


class _FakeHost:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.calls = 0

    def shutdown(self, timeout: float) -> bool:
        self.calls += 1
        time.sleep(self.seconds)
        return True


def _shutdown(host: Any, grace: float) -> tuple[Shutdown, list[int], threading.Event]:
    codes: list[int] = []
    done = threading.Event()

    def fake_exit(code: int) -> None:
        codes.append(code)
        done.set()

    return Shutdown(host, grace, exit=fake_exit, watchdog=False), codes, done


def test_shutdown_exits_0_after_cleanup_and_only_once() -> None:
    host = _FakeHost(0.05)
    shutdown, codes, done = _shutdown(host, grace=30)  # no grace exit while we wait
    assert shutdown.begin("test") is True
    assert shutdown.begin("again") is False
    assert done.wait(20)
    time.sleep(0.1)
    assert codes == [0] and host.calls == 1


def test_the_grace_period_ends_a_cleanup_that_hangs() -> None:
    shutdown, codes, done = _shutdown(_FakeHost(5), grace=0.3)
    started = time.monotonic()
    shutdown.begin("test")
    assert done.wait(4)
    assert 0.25 < time.monotonic() - started < 4  # the cleanup takes 5 s
    assert codes == [0]


def test_a_second_signal_exits_at_once() -> None:
    shutdown, codes, done = _shutdown(_FakeHost(5), grace=10)
    shutdown.on_signal(signal.SIGTERM)
    assert shutdown.reason == "received SIGTERM; shutting down"
    shutdown.on_signal(signal.SIGINT)
    assert done.wait(4) and codes == [0]  # before the 5 s cleanup, the 10 s grace
