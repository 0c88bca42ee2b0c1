"""Progress and cancel while a call runs, in-process: states, resets, typed outcomes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from tests.fixtures.worker_harness import asgi_client, loaded_host

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def wait_until_busy(client: httpx.AsyncClient, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        progress = (await client.get("/progress")).json()
        if progress["busy"] and progress["progress"] > 0:
            return progress
        await asyncio.sleep(0.01)
    raise AssertionError("the call never became busy")


async def test_cancel_with_nothing_running_is_idle() -> None:
    async with asgi_client(loaded_host("SlowPlugin")) as client:
        assert (await client.post("/cancel")).json() == {"cancelled": False, "status": "idle"}


async def test_progress_and_cooperative_cancel_during_execute() -> None:
    async with asgi_client(loaded_host("SlowPlugin")) as client:
        call = asyncio.create_task(client.post("/execute", json={
            "kwargs": {"seconds": 60, "steps": 360}}))
        progress = await wait_until_busy(client)
        assert progress["message"].startswith("step ")
        assert (await client.get("/health")).json()["status"] == "busy"
        started = time.monotonic()
        assert (await client.post("/cancel")).json() == {"cancelled": True,
                                                         "status": "cancelled"}
        response = await call
        # The plugin checks every ~0.17 s (~0.2 s unloaded), the call would run for 60 s.
        assert time.monotonic() - started < 10
        assert (await client.get("/health")).json()["status"] == "ready"
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["category"] == "cancelled"
    assert error["type"] == "cjm_docker.errors.PluginCancelledError"


async def test_any_exception_after_a_cancel_request_counts_as_cancelled() -> None:
    async with asgi_client(loaded_host("SlowPlugin")) as client:
        call = asyncio.create_task(client.post(
            "/execute", json={"kwargs": {"seconds": 5, "on_cancel": "raise_other"}}))
        await wait_until_busy(client)
        await client.post("/cancel")
        response = await call
    assert response.status_code == 409
    error = response.json()["error"]
    assert (error["category"], error["type"]) == ("cancelled", "RuntimeError")


async def test_cancel_not_supported_by_a_duck_typed_plugin() -> None:
    host = loaded_host("DuckPlugin")
    release = asyncio.Event()
    # DuckPlugin.execute returns at once: hold the plugin thread with a call of our own.
    from cjm_docker.worker.calls import CallKind

    loop = asyncio.get_running_loop()
    blocker = host.submit(CallKind.EXECUTE, lambda plugin, call: asyncio.run_coroutine_threadsafe(
        release.wait(), loop).result())
    async with asgi_client(host) as client:
        while not host.busy:
            await asyncio.sleep(0.005)
        assert (await client.post("/cancel")).json() == {"cancelled": False,
                                                         "status": "not_supported"}
        release.set()
        await asyncio.wrap_future(blocker)


async def test_a_cancel_that_blocks_does_not_block_the_answer() -> None:
    async with asgi_client(loaded_host("SlowCancelPlugin")) as client:
        call = asyncio.create_task(client.post("/execute", json={"kwargs": {"seconds": 3}}))
        await wait_until_busy(client)
        started = time.monotonic()
        answer = (await client.post("/cancel")).json()
        elapsed = time.monotonic() - started
        assert answer == {"cancelled": True, "status": "cancelled"}
        assert elapsed < 4  # bounded at ~1 s although cancel() sleeps 5 s (slack: a loaded CI)
        assert (await call).status_code == 409  # its super().cancel() set the event first


async def test_progress_and_cancel_state_reset_between_calls() -> None:
    host = loaded_host("EchoPlugin")
    async with asgi_client(host) as client:
        first = (await client.post("/execute", json={"kwargs": {"report": 0.7,
                                                               "message": "first"}})).json()
        assert first["seen"] == {"progress": 0.0, "message": "", "cancel_requested": False}
        # The last job's progress stays readable after it ends...
        assert (await client.get("/progress")).json() == {"progress": 0.7, "message": "first",
                                                          "busy": False}
        host.plugin.cancel()  # ...and a cancel that arrives too late must not leak either.
        second = (await client.post("/execute")).json()
    assert second["seen"] == {"progress": 0.0, "message": "", "cancel_requested": False}


async def test_legacy_plugins_progress_and_cancel_flag() -> None:
    host = loaded_host("LegacyPlugin")
    async with asgi_client(host) as client:
        first = (await client.post("/execute", json={"kwargs": {"text": "ab",
                                                               "report": 0.5}})).json()
        assert first == {"upper": "AB", "seen_cancel": False}
        assert (await client.get("/progress")).json()["progress"] == 0.5
        host.plugin.cancel()
        second = (await client.post("/execute", json={"kwargs": {"text": "c"}})).json()
    assert second == {"upper": "C", "seen_cancel": False}


async def test_calls_queue_behind_each_other_on_the_plugin_thread() -> None:
    host = loaded_host("SlowPlugin")
    async with asgi_client(host) as client:
        body = {"kwargs": {"seconds": 0.2, "steps": 4}}
        started = time.monotonic()
        first, second = await asyncio.gather(client.post("/execute", json=body),
                                             client.post("/execute", json=body))
        elapsed = time.monotonic() - started
    assert first.status_code == second.status_code == 200
    assert elapsed >= 0.38  # serialised, not concurrent
