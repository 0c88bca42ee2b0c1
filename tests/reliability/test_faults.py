"""Fault injection on the real engine: each fault gives the caller a typed error, and the next
call works on a fresh container.

Already covered elsewhere, not repeated here: ``os._exit`` mid-execute with the exit code and the
next call on a fresh container (tests/integration/test_runtime_manager.py::
test_worker_death_mid_execute_is_a_typed_error_and_next_call_gets_a_fresh_container), a hung
non-cooperative execute timing out (::test_hung_call_times_out_and_the_container_is_replaced),
a crashed container failing its job while the queue runs the next one
(tests/integration/test_queue_containers.py::test_a_crashed_container_fails_its_job_and_the_next_one_runs),
a SIGKILLed host leaving nothing (tests/integration/test_runtime_lease.py).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cjm_docker.errors import (
    CjmDockerError,
    PluginCallError,
    WorkerCrashedError,
    WorkerTimeoutError,
)
from tests.reliability.conftest import WORKBENCH, containers_of

pytestmark = [pytest.mark.integration, pytest.mark.reliability]


def _hostname(mgr, name: str = WORKBENCH) -> str:
    return mgr.execute_plugin(name, action="echo", text="alive")["hostname"]


def _assert_recovered(mgr, engine, first_hostname: str, name: str = WORKBENCH) -> None:
    """The next call succeeds, on a new container, and only one container is left."""
    assert _hostname(mgr, name) != first_hostname
    assert len(containers_of(engine, mgr.session)) == 1


def _call_in_thread(fn, *args, **kwargs) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["result"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, outcome


def _until_busy(mgr, name: str = WORKBENCH, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not mgr.get_plugin(name).get_progress().get("busy"):
        assert time.monotonic() < deadline, "the call never started"
        time.sleep(0.02)


# -- the plugin process dies -----------------------------------------------------------------


def test_segfault_mid_execute_is_a_typed_crash_and_the_next_call_gets_a_fresh_container(
        manager, engine):
    manager.load_plugin(WORKBENCH)
    first = _hostname(manager)
    with pytest.raises(WorkerCrashedError) as info:
        manager.execute_plugin(WORKBENCH, action="segfault")
    # SIGSEGV: the process ends with 139 (128 + 11), as the engine's die event reports it.
    assert info.value.exit_code == 139
    assert not info.value.oom_killed
    _assert_recovered(manager, engine, first)


def test_os_exit_fails_every_queued_call_typed_and_the_next_ones_work(manager, engine):
    """Calls waiting behind the one that kills the worker all fail typed; none hangs."""
    manager.load_plugin(WORKBENCH)
    first = _hostname(manager)
    waiting = [_call_in_thread(manager.execute_plugin, WORKBENCH, action="sleep", seconds=0.5)
               for _ in range(3)]
    time.sleep(0.1)
    with pytest.raises(WorkerCrashedError):
        manager.execute_plugin(WORKBENCH, action="exit", code=3)
    for thread, outcome in waiting:
        thread.join(timeout=30)
        assert not thread.is_alive(), "a queued call hung after the worker died"
        # A call the worker finished before the crash succeeds; the others fail typed.
        assert "result" in outcome or isinstance(outcome["error"], CjmDockerError), outcome
    _assert_recovered(manager, engine, first)


def test_os_exit_during_async_execute(manager, engine):
    manager.load_plugin(WORKBENCH)
    first = _hostname(manager)

    async def scenario() -> None:
        with pytest.raises(WorkerCrashedError) as info:
            await manager.execute_plugin_async(WORKBENCH, action="exit", code=5)
        assert info.value.exit_code == 5
        result = await manager.execute_plugin_async(WORKBENCH, action="echo")
        assert result["hostname"] != first

    asyncio.run(scenario())
    assert len(containers_of(engine, manager.session)) == 1


# -- the out-of-memory killer ----------------------------------------------------------------


def test_oom_kill_is_reported_from_the_engines_state(make_manager, engine):
    name = "cjm-test-workbench-oom"
    mgr = make_manager(variants={name: {"resources": {"memory_bytes": 96 * 1024 * 1024}}})
    mgr.load_plugin(name)
    first = _hostname(mgr, name)
    assert mgr.execute_plugin(name, action="allocate", mb=8)["allocated_mb"] == 8
    with pytest.raises(WorkerCrashedError) as info:
        mgr.execute_plugin(name, action="allocate", mb=400, hold=1.0)
    assert info.value.oom_killed, info.value
    assert "out-of-memory" in str(info.value)
    _assert_recovered(mgr, engine, first, name)


# -- the container is killed or removed from outside -----------------------------------------


@pytest.mark.parametrize("how", ["kill", "rm -f"])
def test_container_killed_or_removed_from_outside_mid_execute(manager, engine, how):
    manager.load_plugin(WORKBENCH)
    first = _hostname(manager)
    container_id = manager.get_plugin(WORKBENCH).container.id
    thread, outcome = _call_in_thread(manager.execute_plugin, WORKBENCH, action="sleep",
                                      seconds=30)
    _until_busy(manager)
    subprocess.run(["docker", *how.split(), container_id], check=True, capture_output=True)
    thread.join(timeout=30)
    assert not thread.is_alive(), "the call hung after its container was killed"
    error = outcome.get("error")
    assert isinstance(error, WorkerCrashedError), outcome
    if how == "kill":
        assert error.exit_code == 137 and "SIGKILL" in str(error)
    _assert_recovered(manager, engine, first)


def test_idle_container_killed_from_outside_fails_one_call_typed_then_recovers(manager, engine):
    manager.load_plugin(WORKBENCH)
    first = _hostname(manager)
    subprocess.run(["docker", "kill", manager.get_plugin(WORKBENCH).container.id], check=True,
                   capture_output=True)
    time.sleep(0.5)
    try:
        second = _hostname(manager)   # may already be served by a fresh container
    except WorkerCrashedError as exc:
        assert exc.exit_code == 137
        second = _hostname(manager)
    assert second != first
    assert len(containers_of(engine, manager.session)) == 1


# -- a plugin hangs --------------------------------------------------------------------------


def test_stalled_stream_times_out_and_the_container_is_replaced(manager, engine):
    manager.load_plugin(WORKBENCH)
    first = _hostname(manager)
    manager.set_call_timeout(WORKBENCH, 1.0)
    started = time.perf_counter()
    with pytest.raises(WorkerTimeoutError):
        list(manager.execute_plugin_stream_sync(WORKBENCH, n=3, delay=30))
    assert time.perf_counter() - started < 15  # the 1 s timeout, not the 30 s stall
    _assert_recovered(manager, engine, first)


def test_hung_async_execute_times_out_and_the_container_is_replaced(manager, engine):
    manager.load_plugin(WORKBENCH)
    first = _hostname(manager)
    manager.set_call_timeout(WORKBENCH, 1.0)

    async def scenario() -> None:
        with pytest.raises(WorkerTimeoutError):
            await manager.execute_plugin_async(WORKBENCH, action="sleep", seconds=30,
                                               cooperative=False)

    started = time.perf_counter()
    asyncio.run(scenario())
    assert time.perf_counter() - started < 15  # the 1 s timeout, not the 30 s call
    _assert_recovered(manager, engine, first)


# -- the exchange folder fills up ------------------------------------------------------------


@pytest.fixture
def full_exchange(tmp_path) -> Iterator[Path]:
    """A data dir whose exchange folder is a 1 MiB tmpfs (needs root to mount)."""
    exchange = tmp_path / "data" / "exchange"
    exchange.mkdir(parents=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0777", "tmpfs",
                              str(exchange)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield tmp_path / "data"
    finally:
        subprocess.run(["umount", "-l", str(exchange)], capture_output=True)


def test_full_exchange_folder_is_a_typed_error_and_leaves_no_partial_file(
        full_exchange, make_manager, engine, tmp_path):
    from cjm_docker.config import load_config

    config = load_config(data_dir=full_exchange, models_dir=full_exchange / "models")
    mgr = make_manager(config=config)
    mgr.load_plugin(WORKBENCH)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(4 * 1024 * 1024))   # 4 MiB into a 1 MiB exchange

    class Blob:
        def to_temp_file(self) -> str:
            return str(big)

    with pytest.raises(CjmDockerError, match="exchange"):
        mgr.execute_plugin(WORKBENCH, action="file_size", path=Blob())
    left = [p for p in config.exchange_dir.rglob("*") if p.is_file()]
    assert left == []   # no partial copy keeps it full
    small = tmp_path / "small.bin"
    small.write_bytes(b"x" * 1000)

    class SmallBlob:
        def to_temp_file(self) -> str:
            return str(small)

    assert mgr.execute_plugin(WORKBENCH, action="file_size", path=SmallBlob())["size"] == 1000
    # The plugin cannot write into its exchange folder at all (read-only inside), and that
    # failure is the plugin's error, typed.
    own = mgr.get_plugin(WORKBENCH).container.exchange_folder()
    with pytest.raises(PluginCallError):
        mgr.execute_plugin(WORKBENCH, action="write_file", path=str(own / "out.bin"), mb=2)
    assert _hostname(mgr)


# -- the engine restarts while containers run ------------------------------------------------


@pytest.mark.skipif(os.environ.get("CJM_TEST_ENGINE_RESTART") != "1",
                    reason="restarts dockerd, which disturbs every other user of this engine; "
                           "set CJM_TEST_ENGINE_RESTART=1 on a dedicated machine")
def test_engine_restart_while_containers_run(manager, engine):
    manager.load_plugin(WORKBENCH)
    first = _hostname(manager)
    restart = os.environ.get("CJM_TEST_ENGINE_RESTART_CMD", "service docker restart")
    subprocess.run(restart, shell=True, check=True, capture_output=True, timeout=120)
    deadline = time.monotonic() + 60
    while True:   # wait for the engine to answer again
        try:
            engine.list_containers({})
            break
        except CjmDockerError:
            assert time.monotonic() < deadline, "the engine did not come back"
            time.sleep(1)
    try:
        second = _hostname(manager)
    except CjmDockerError:   # the old container died with the engine: typed, then recovered
        second = _hostname(manager)
    assert second != first
    assert len(containers_of(engine, manager.session)) == 1
