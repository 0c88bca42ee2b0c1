"""Eviction: idle plugins holding the short resource, least recently used first, never busy ones;
and the manager's admission path (sync and async) built on it, with fake containers."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from scheduling_fakes import FakeMachine, loaded

from cjm_docker.config import CjmConfig
from cjm_docker.errors import SchedulingError
from cjm_docker.host.manager import PluginManager
from cjm_docker.host.resources import ResourceBroker
from cjm_docker.metadata import PluginMeta
from cjm_docker.scheduling import (
    EvictionCandidate,
    PermissiveScheduler,
    Placement,
    QueueScheduler,
    Requirements,
    SafetyScheduler,
    Shortage,
    choose_victims,
)

C = EvictionCandidate


# -- pure ------------------------------------------------------------------------------------

def test_lru_first_and_only_as_many_as_needed():
    cands = [C("new", 30, ram_mb=3000), C("old", 10, ram_mb=3000), C("mid", 20, ram_mb=3000)]
    assert [v.name for v in choose_victims(cands, Shortage(ram_mb=4000))] == ["old", "mid"]


def test_never_busy_never_protected():
    cands = [C("busy", 1, busy=True, ram_mb=9000), C("monitor", 2, ram_mb=9000),
             C("idle", 3, ram_mb=9000)]
    victims = choose_victims(cands, Shortage(ram_mb=1000), protected={"monitor"})
    assert [v.name for v in victims] == ["idle"]


def test_only_holders_of_the_short_resource():
    cands = [C("cpu", 1, ram_mb=500), C("gpu0", 2, ram_mb=500, vram_mb={0: 8000}),
             C("gpu1", 3, ram_mb=500, vram_mb={1: 8000})]
    short_on_1 = Shortage(vram_mb=4000, gpu_indices=(1,))
    assert [v.name for v in choose_victims(cands, short_on_1)] == ["gpu1"]
    assert [v.name for v in choose_victims(cands, Shortage(vram_mb=4000))] == ["gpu0"]


def test_nothing_is_stopped_when_even_all_would_not_make_room():
    cands = [C("a", 1, ram_mb=500), C("b", 2, ram_mb=500)]
    assert choose_victims(cands, Shortage(ram_mb=5000)) == []


def test_unknown_shortage_offers_every_idle_plugin_lru_first():
    cands = [C("b", 2), C("a", 1), C("c", 0, busy=True)]
    assert [v.name for v in choose_victims(cands, None)] == ["a", "b"]


# -- through the manager ---------------------------------------------------------------------

@pytest.fixture
def machine(tmp_path):
    return FakeMachine(tmp_path / "proc", ram_total_mb=16000, ram_base_mb=2000,
                       gpus=((24000, 0), (24000, 0)))


def make_manager(tmp_path, machine, scheduler):
    manager = PluginManager(search_paths=[], scheduler=scheduler,
                            config=CjmConfig(data_dir=tmp_path / "data"), engine=machine)
    manager.telemetry = machine.telemetry()
    return manager


def test_a_plugin_that_needs_ram_gets_it_by_evicting_the_lru_idle_one(tmp_path, machine):
    m = make_manager(tmp_path, machine, SafetyScheduler())
    old = loaded(m, machine, "old", memory_mb=5000, last_executed=1)
    loaded(m, machine, "recent", memory_mb=5000, last_executed=2)
    loaded(m, machine, "needy", memory_mb=100, ram_mb=6000, last_executed=3)
    # 16000 - 2000 - 10100 = 3900 free; needy needs 6000
    assert m.execute_plugin("needy") == {"ok": True}
    assert "old" not in m.plugins and old.instance is None and "recent" in m.plugins
    assert m.scheduler.reservations.active() == []          # released on finish


def test_a_busy_plugin_is_never_evicted(tmp_path, machine):
    m = make_manager(tmp_path, machine, SafetyScheduler())
    loaded(m, machine, "busy", memory_mb=9000, last_executed=1)
    loaded(m, machine, "small", memory_mb=100, last_executed=2)
    loaded(m, machine, "needy", memory_mb=100, ram_mb=6000)
    m._busy["busy"] = 1
    with pytest.raises(SchedulingError) as info:
        m.execute_plugin("needy")
    assert "needs 6000MB RAM" in info.value.reason
    assert "busy" in m.plugins and "small" in m.plugins     # small alone would not help


def test_the_system_monitor_is_never_evicted(tmp_path, machine):
    m = make_manager(tmp_path, machine, SafetyScheduler())
    loaded(m, machine, "monitor", memory_mb=9000, last_executed=0)
    loaded(m, machine, "needy", memory_mb=100, ram_mb=6000)
    m.system_monitor_name = "monitor"
    m.plugins["monitor"].instance.execute = lambda *a, **k: machine.telemetry().stats()
    with pytest.raises(SchedulingError):
        m.execute_plugin("needy")
    assert "monitor" in m.plugins


def test_vram_shortage_evicts_the_plugin_holding_that_gpu(tmp_path, machine):
    m = make_manager(tmp_path, machine, SafetyScheduler())
    loaded(m, machine, "on0", memory_mb=100, gpu_mb={0: 20000}, last_executed=1)
    loaded(m, machine, "on1", memory_mb=100, gpu_mb={1: 20000}, last_executed=2)
    needy = loaded(m, machine, "needy", memory_mb=100, gpu=True, vram_mb=10000)
    m.resources.placements["needy"] = Placement(device_ids=("GPU-00000001-fake",),
                                                gpu_indices=(1,))   # as load_plugin placed it
    m.execute_plugin("needy")
    assert "on1" not in m.plugins and "on0" in m.plugins    # on0 is older but holds GPU 0
    assert needy.instance.calls == 1


def test_refusal_that_eviction_cannot_fix_says_why(tmp_path, machine):
    m = make_manager(tmp_path, machine, SafetyScheduler())
    loaded(m, machine, "huge", memory_mb=100, ram_mb=64000)
    with pytest.raises(SchedulingError, match="needs 64000MB RAM"):
        m.execute_plugin("huge")


def test_async_admission_and_eviction_never_block_the_loop(tmp_path, machine):
    """Engine calls and container stops run in threads; a ticker keeps ticking meanwhile."""
    m = make_manager(tmp_path, machine, SafetyScheduler())
    old = loaded(m, machine, "old", memory_mb=9000, last_executed=1)
    loaded(m, machine, "needy", memory_mb=100, ram_mb=6000)
    loop_thread: list[int] = []
    box_id = old.instance.box.id

    def slow_cleanup():
        loop_thread.append(threading.get_ident())
        time.sleep(1.0)                              # a container taking its time to stop
        machine.remove(box_id)

    old.instance.cleanup = slow_cleanup

    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        task = asyncio.create_task(ticker())
        result = await m.execute_plugin_async("needy")
        task.cancel()
        return result, ticks, threading.get_ident()

    result, ticks, main_thread = asyncio.run(main())
    assert result == {"ok": True} and "old" not in m.plugins
    assert loop_thread and loop_thread[0] != main_thread and ticks >= 15


def test_queue_scheduler_evicts_first_then_waits(tmp_path, machine):
    m = make_manager(tmp_path, machine, QueueScheduler(timeout=30, poll_interval=0.05))
    loaded(m, machine, "busy", memory_mb=9000, last_executed=1)
    loaded(m, machine, "needy", memory_mb=100, ram_mb=6000)
    m._busy["busy"] = 1

    def finish_later():
        time.sleep(0.1)
        machine.remove(m.plugins["busy"].instance.box.id)    # its job ends, memory comes back

    threading.Thread(target=finish_later).start()
    assert m.execute_plugin("needy") == {"ok": True}
    assert "busy" in m.plugins


def test_legacy_evict_for_resources_keeps_its_meaning(tmp_path, machine):
    m = make_manager(tmp_path, machine, SafetyScheduler())
    loaded(m, machine, "old", memory_mb=9000, last_executed=1)
    needy = loaded(m, machine, "needy", memory_mb=100, ram_mb=6000)
    assert m._evict_for_resources(needy) is True and "old" not in m.plugins
    assert asyncio.run(m._evict_for_resources_async(needy)) is True


def test_permissive_scheduler_reads_no_stats(tmp_path, machine):
    m = make_manager(tmp_path, machine, PermissiveScheduler())
    loaded(m, machine, "p", memory_mb=100, ram_mb=10**9)
    m.resources.stats = lambda: pytest.fail("stats read")
    assert m.execute_plugin("p") == {"ok": True}


# -- stats -----------------------------------------------------------------------------------

def test_global_stats_fall_back_to_telemetry_without_a_monitor(tmp_path, machine):
    m = make_manager(tmp_path, machine, SafetyScheduler())
    stats = m._get_global_stats()
    assert stats["memory_available_mb"] == pytest.approx(14000)
    assert stats["gpu_free_memory_mb"] == pytest.approx(24000)
    assert asyncio.run(m._get_global_stats_async())["memory_total_mb"] == pytest.approx(16000)


def test_a_registered_monitor_is_used_and_a_stale_one_falls_back(tmp_path, machine):
    m = make_manager(tmp_path, machine, SafetyScheduler())
    mon = loaded(m, machine, "monitor", memory_mb=10)
    mon.instance.execute = lambda *a, **k: {"memory_available_mb": 1, "gpu_free_memory_mb": 2}
    m.register_system_monitor("monitor")
    assert m._get_global_stats() == {"memory_available_mb": 1, "gpu_free_memory_mb": 2}
    m.unload_plugin("monitor")                             # defect 16: no silent {}
    assert m._get_global_stats()["memory_available_mb"] == pytest.approx(14000)


def test_plugin_stats_add_the_container_figures(tmp_path, machine):
    m = make_manager(tmp_path, machine, SafetyScheduler())
    p = loaded(m, machine, "p", memory_mb=1234, gpu_mb={1: 2000})
    stats = m.get_plugin_stats("p")
    assert stats["memory_usage_mb"] == pytest.approx(1234)
    assert stats["memory_limit_mb"] == pytest.approx(16000)
    assert stats["container_id"] == p.instance.box.id and stats["pids"] == 3
    assert stats["worker_cpu_percent"] == 1.0 and stats["cpu_percent"] >= 0
    assert stats["gpu_memory_mb"] == pytest.approx(2000)
    assert stats["gpu_memory_by_device"] == {"1": 2000.0}
    assert m.get_plugin_stats("missing") is None


def test_held_memory_is_not_counted_twice_for_a_running_plugin(tmp_path, machine):
    """While a's call runs, its reservation shrinks by what its container already took."""
    m = make_manager(tmp_path, machine, SafetyScheduler())
    a = loaded(m, machine, "a", memory_mb=100, ram_mb=6000)
    loaded(m, machine, "b", memory_mb=100, ram_mb=4000)
    m.resources.admit(a)                                   # reserve 6000 of 13800 free
    machine.boxes[a.instance.box.id].memory_mb = 6000       # a takes its memory
    # free now 16000-2000-6100 = 7900; a still owes 0 -> b fits
    assert m.resources.admit(m.plugins["b"]).admitted


# -- the broker's collaborators ----------------------------------------------------------------

def test_requirements_are_computed_once_per_load_not_per_call(tmp_path, machine, monkeypatch):
    m = make_manager(tmp_path, machine, SafetyScheduler())
    p = loaded(m, machine, "p", memory_mb=100, ram_mb=1000)
    m.resources.place(p)                                   # what load_plugin does
    assert p.requirements == Requirements(ram_mb=1000)
    monkeypatch.setattr(Requirements, "from_manifest",
                        classmethod(lambda cls, manifest: pytest.fail("manifest parsed again")))
    assert m.execute_plugin("p") == {"ok": True}
    assert asyncio.run(m.execute_plugin_async("p")) == {"ok": True}


class LoadedView:
    """Only what the broker may read: no manager behind it."""

    def __init__(self) -> None:
        self.plugins: dict[str, PluginMeta] = {}
        self.system_monitor_name: str | None = None
        self.busy: set[str] = set()

    def is_busy(self, name: str) -> bool:
        return name in self.busy

    def get_plugin(self, name: str) -> object:
        meta = self.plugins.get(name)
        return meta.instance if meta is not None else None


def test_the_broker_works_from_its_collaborators_alone(tmp_path, machine):
    view, stopped = LoadedView(), []

    def evict(name: str) -> bool:
        stopped.append(name)
        view.plugins.pop(name).instance.cleanup()           # frees its container's memory
        return True

    broker = ResourceBroker(view, scheduler=SafetyScheduler(), engine=lambda: machine,
                            config=CjmConfig(data_dir=tmp_path / "data"), evict=evict,
                            telemetry=machine.telemetry())
    loaded(view, machine, "old", memory_mb=5000, last_executed=1)
    loaded(view, machine, "busy", memory_mb=5000, last_executed=0)
    needy = loaded(view, machine, "needy", memory_mb=100, ram_mb=6000, last_executed=3)
    view.busy.add("busy")
    assert broker.global_stats()["memory_available_mb"] == pytest.approx(3900)
    assert broker.admit(needy).admitted and stopped == ["old"]
    view.system_monitor_name = "needy"
    needy.instance.execute = lambda *a, **k: {"memory_available_mb": 7}
    assert broker.global_stats() == {"memory_available_mb": 7}
