"""Requirements, the capacity check, reservations and the three schedulers."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from scheduling_fakes import meta

from cjm_docker.manifest import parse_manifest
from cjm_docker.metadata import PluginMeta
from cjm_docker.scheduling import (
    Outcome,
    PermissiveScheduler,
    QueueScheduler,
    Requirements,
    ResourceScheduler,
    SafetyScheduler,
)

STATS = {"memory_available_mb": 8000, "memory_total_mb": 16000, "gpu_free_memory_mb": 6000}
GPUS = {"memory_available_mb": 8000, "memory_total_mb": 16000, "gpu_free_memory_mb": 10000,
        "gpus": [{"index": 0, "memory_free_mb": 4000, "memory_total_mb": 24000},
                 {"index": 1, "memory_free_mb": 10000, "memory_total_mb": 24000}]}


# -- requirements ----------------------------------------------------------------------------

def test_requirements_from_the_0_0_x_keys():
    req = Requirements.of(PluginMeta("p", "1", manifest={"resources": {
        "requires_gpu": True, "min_gpu_vram_mb": 4000, "min_system_ram_mb": 2000}}))
    assert req == Requirements(ram_mb=2000, vram_mb=4000, requires_gpu=True)


def test_requirements_from_runtime_resources_take_the_larger_figure():
    m = parse_manifest({"name": "p", "module": "m", "class": "C", "image": "i",
                        "resources": {"min_gpu_vram_mb": 1000},
                        "runtime": {"resources": {"memory_bytes": 3 * 1024**3, "gpu": {
                            "count": 2, "min_memory_mb": 5000, "allow_cpu_fallback": True}}}},
                       source="test")
    req = Requirements.of(m)
    assert req.ram_mb == 3072 and req.vram_mb == 5000 and req.requires_gpu
    assert req.gpu_count == 2 and req.allow_cpu_fallback


def test_no_manifest_means_no_needs():
    assert Requirements.of(PluginMeta("p", "1")) == Requirements()
    assert Requirements.of(object()) == Requirements()


# -- 0.0.x behaviour kept --------------------------------------------------------------------

def test_permissive_admits_without_reading_stats():
    def boom():
        raise AssertionError("stats read")

    s = PermissiveScheduler()
    assert s.allocate(meta("p", ram_mb=10**9), boom)
    assert s.admit(meta("p"), boom).outcome is Outcome.ADMITTED and not s.enforcing


@pytest.mark.parametrize("kwargs, admitted", [
    ({"ram_mb": 8000}, True),                       # equal passes (strict comparison)
    ({"ram_mb": 8001}, False),
    ({"gpu": True, "vram_mb": 6000}, True),
    ({"gpu": True, "vram_mb": 6001}, False),
    ({"vram_mb": 99999}, True),                      # VRAM only checked when requires_gpu
])
def test_safety_compares_like_0_0_x(kwargs, admitted):
    s = SafetyScheduler()
    assert s.allocate(meta("p", **kwargs), lambda: STATS) is admitted


def test_safety_without_gpu_stats_still_checks_ram(caplog):
    """Defect 16: 0.0.x returned True at once when GPU stats were missing."""
    s = SafetyScheduler()
    stats = {"memory_available_mb": 1000}
    with caplog.at_level(logging.WARNING):
        a = s.admit(meta("p", gpu=True, vram_mb=4000, ram_mb=2000), lambda: stats)
    assert a.outcome is Outcome.REFUSED and "RAM" in a.reason
    assert "No GPU stats" in caplog.text
    assert s.allocate(meta("q", gpu=True, vram_mb=4000, ram_mb=500), lambda: stats)


def test_no_stats_at_all_admits_like_0_0_x():
    assert SafetyScheduler().allocate(meta("p", ram_mb=100, gpu=True, vram_mb=100), lambda: {})


def test_a_0_0_x_style_scheduler_still_plugs_in():
    class Old(ResourceScheduler):
        def allocate(self, meta, stats_provider):
            return stats_provider()["ok"]

        def on_execution_start(self, name): ...
        def on_execution_finish(self, name): ...

    assert Old().admit(meta("p"), lambda: {"ok": True}).admitted
    refused = Old().admit(meta("p"), lambda: {"ok": False})
    assert refused.outcome is Outcome.REFUSED and refused.reason and refused.shortage is None
    assert asyncio.run(Old().admit_async(meta("p"), _async({"ok": True}))).admitted


def _async(stats):
    async def provider():
        return stats
    return provider


# -- reservations ----------------------------------------------------------------------------

def test_two_admissions_in_a_row_cannot_spend_the_same_memory():
    s = SafetyScheduler()
    assert s.allocate(meta("a", ram_mb=5000), lambda: STATS)
    second = s.admit(meta("b", ram_mb=5000), lambda: STATS)
    assert second.outcome is Outcome.REFUSED
    assert second.shortage.ram_mb == pytest.approx(2000)
    s.on_execution_start("a")
    s.on_execution_finish("a")                         # released on finish
    assert s.allocate(meta("b", ram_mb=5000), lambda: STATS)


def test_reservation_shrinks_by_what_the_plugin_already_holds():
    s = SafetyScheduler()
    assert s.allocate(meta("a", ram_mb=5000), lambda: STATS)
    # a's container now holds 4000 MB, already out of memory_available_mb: 1000 still to come
    stats = dict(STATS, memory_available_mb=4000, plugins={"a": {"memory_mb": 4000}})
    assert s.allocate(meta("b", ram_mb=3000), lambda: stats)


def test_vram_is_reserved_on_the_gpu_it_was_counted_against():
    s = SafetyScheduler()
    a = s.admit(meta("a", gpu=True, vram_mb=8000), lambda: GPUS)
    assert a.admitted and a.gpu_index == 1 and a.reservation.gpu_indices == (1,)
    b = s.admit(meta("b", gpu=True, vram_mb=3000), lambda: GPUS)
    assert b.admitted and b.gpu_index == 0             # GPU 1 has 2000 left after a
    c = s.admit(meta("c", gpu=True, vram_mb=3000), lambda: GPUS)
    assert c.outcome is Outcome.REFUSED and c.shortage.vram_mb > 0


def test_a_pinned_plugin_is_checked_on_its_own_gpu():
    s = SafetyScheduler()
    refused = s.admit(meta("a", gpu=True, vram_mb=5000), lambda: GPUS, gpu_indices=(0,))
    assert refused.outcome is Outcome.REFUSED and refused.shortage.gpu_indices == (0,)
    assert s.admit(meta("a", gpu=True, vram_mb=5000), lambda: GPUS, gpu_indices=(1,)).admitted
    # on the CPU (placed there by the fallback): no VRAM needed
    assert s.admit(meta("b", gpu=True, vram_mb=10**6), lambda: GPUS, gpu_indices=()).admitted


# -- QueueScheduler --------------------------------------------------------------------------

class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_queue_waits_until_it_fits():
    clock = Clock()
    frees = iter([1000, 1000, 9000])
    s = QueueScheduler(timeout=30, poll_interval=2, clock=clock, sleep=clock.sleep)
    a = s.admit(meta("p", ram_mb=4000), lambda: {"memory_available_mb": next(frees)})
    assert a.admitted and clock.sleeps == [2, 2]


def test_queue_refuses_at_the_timeout_without_overshooting():
    clock = Clock()
    s = QueueScheduler(timeout=5, poll_interval=2, clock=clock, sleep=clock.sleep)
    a = s.admit(meta("p", ram_mb=4000), lambda: {"memory_available_mb": 1000})
    assert a.outcome is Outcome.REFUSED and "Timed out after 5s" in a.reason
    assert clock.sleeps == [2, 2, 1] and clock.now == 5


def test_queue_without_wait_answers_queued():
    s = QueueScheduler()
    a = s.admit(meta("p", ram_mb=4000), lambda: {"memory_available_mb": 1000}, wait=False)
    assert a.outcome is Outcome.QUEUED and a.shortage.ram_mb == 3000


def test_queue_refuses_at_once_what_can_never_fit():
    clock = Clock()
    s = QueueScheduler(timeout=300, clock=clock, sleep=clock.sleep)
    a = s.admit(meta("p", ram_mb=64000), lambda: STATS)
    assert a.outcome is Outcome.REFUSED and not a.retryable and clock.sleeps == []


def test_queue_treats_missing_gpu_stats_as_ok_but_checks_ram():
    s = QueueScheduler(timeout=0)
    assert s.allocate(meta("p", gpu=True, vram_mb=4000), lambda: {"memory_available_mb": 10})
    assert not s.allocate(meta("q", gpu=True, vram_mb=4000, ram_mb=20),
                          lambda: {"memory_available_mb": 10})


def test_queue_tracks_active_plugins():
    s = QueueScheduler()
    s.on_execution_start("a")
    s.on_execution_start("a")
    s.on_execution_finish("a")
    assert s.get_active_plugins() == {"a"}
    s.on_execution_finish("a")
    assert s.get_active_plugins() == set()


def test_queue_async_wait_never_blocks_the_event_loop():
    """The wait is asyncio.sleep and the stats are awaited: a ticker keeps running."""
    s = QueueScheduler(timeout=5, poll_interval=0.05)
    polls = []

    async def stats():
        polls.append(time.monotonic())
        return {"memory_available_mb": 9000 if len(polls) >= 4 else 100}

    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.005)

        task = asyncio.create_task(ticker())
        started = time.monotonic()
        admission = await s.admit_async(meta("p", ram_mb=1000), stats)
        elapsed = time.monotonic() - started
        task.cancel()
        return admission, ticks, elapsed

    admission, ticks, elapsed = asyncio.run(main())
    assert admission.admitted and len(polls) == 4
    assert elapsed >= 0.15 and ticks >= 10            # the loop ran while we waited


def test_allocate_async_of_our_schedulers_reserves_once():
    s = SafetyScheduler()
    assert asyncio.run(s.allocate_async(meta("a", ram_mb=5000), _async(STATS)))
    assert len(s.reservations.active()) == 1
