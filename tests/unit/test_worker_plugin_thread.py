"""PluginThread: one thread, calls in order, outcomes handed back to the event loop."""

from __future__ import annotations

import asyncio
import threading

import pytest

from cjm_docker.worker.plugin_thread import PluginThread

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_run_returns_results_and_raises_errors_on_the_loop() -> None:
    thread = PluginThread()
    try:
        assert await thread.run(lambda a, b: a + b, 2, 3) == 5
        assert await thread.run(threading.get_ident) == thread.ident

        def boom() -> None:
            raise KeyError("kaput")
        with pytest.raises(KeyError, match="kaput"):
            await thread.run(boom)
        assert thread.idle
    finally:
        thread.stop()


async def test_calls_run_in_submission_order() -> None:
    thread = PluginThread()
    seen: list[int] = []
    try:
        await asyncio.gather(*(thread.run(seen.append, n) for n in range(50)))
    finally:
        thread.stop()
    assert seen == list(range(50))


async def test_a_call_whose_waiter_was_cancelled_before_it_started_is_skipped() -> None:
    thread = PluginThread()
    gate = threading.Event()
    ran: list[str] = []
    try:
        blocker = asyncio.ensure_future(thread.run(gate.wait, 5))
        queued = asyncio.ensure_future(thread.run(ran.append, "queued"))
        await asyncio.sleep(0.05)
        queued.cancel()
        gate.set()
        assert await blocker is True
        assert await thread.run(ran.append, "after") is None
    finally:
        thread.stop()
    assert ran == ["after"]
    assert thread.wait_idle(1.0)


def test_wait_idle_times_out_while_a_call_runs() -> None:
    thread = PluginThread()
    gate = threading.Event()
    try:
        thread.submit(gate.wait, 5)
        assert not thread.wait_idle(0.05) and not thread.idle
        gate.set()
        assert thread.wait_idle(2.0) and thread.idle
    finally:
        thread.stop()
