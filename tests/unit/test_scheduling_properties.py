"""Property tests of the scheduler's invariants (hypothesis).

- never over-allocated: open reservations never exceed what the stats said was free;
- a busy plugin is never evicted (nor a protected one), victims hold what is short, LRU first;
- every request ends admitted, queued or refused, with a reason.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scheduling_fakes import FakeMachine, loaded, meta

from cjm_docker.config import CjmConfig
from cjm_docker.errors import SchedulingError
from cjm_docker.host.manager import PluginManager
from cjm_docker.scheduling import (
    EvictionCandidate,
    Outcome,
    Placement,
    QueueScheduler,
    SafetyScheduler,
    Shortage,
    choose_victims,
)

gpu_lists = st.lists(st.tuples(st.integers(0, 40000), st.integers(1, 40000)),
                     min_size=0, max_size=3)
requests = st.tuples(
    st.integers(0, 5),                                   # plugin index
    st.integers(0, 20000),                               # RAM need
    st.integers(0, 30000),                               # VRAM need
    st.booleans(),                                       # requires_gpu
    st.one_of(st.none(), st.integers(0, 3)),             # pinned GPU (None: unpinned)
)
operations = st.lists(st.one_of(st.tuples(st.just("admit"), requests),
                                st.tuples(st.just("finish"), st.integers(0, 5))),
                      max_size=30)


def stats_for(ram_free, gpus):
    stats = {"memory_available_mb": ram_free, "memory_total_mb": ram_free + 1000}
    if gpus:
        stats["gpus"] = [{"index": i, "memory_free_mb": min(free, total),
                          "memory_total_mb": total} for i, (free, total) in enumerate(gpus)]
        stats["gpu_free_memory_mb"] = max(g["memory_free_mb"] for g in stats["gpus"])
    return stats


@settings(max_examples=300, deadline=None)
@given(ram_free=st.integers(0, 40000), gpus=gpu_lists, ops=operations,
       queue=st.booleans())
def test_never_over_allocated_and_every_request_ends_with_a_reason(ram_free, gpus, ops, queue):
    scheduler = QueueScheduler(timeout=0) if queue else SafetyScheduler()
    stats = stats_for(ram_free, gpus)
    for op, arg in ops:
        if op == "finish":
            scheduler.on_execution_finish(f"p{arg}")
        else:
            index, ram, vram, needs_gpu, pin = arg
            pinned = None if pin is None or not gpus else (pin % len(gpus),)
            admission = scheduler.admit(meta(f"p{index}", ram_mb=ram, vram_mb=vram, gpu=needs_gpu),
                                        lambda: stats, gpu_indices=pinned,
                                        wait=bool(index % 2))
            assert admission.outcome in (Outcome.ADMITTED, Outcome.QUEUED, Outcome.REFUSED)
            assert admission.reason
            assert (admission.reservation is not None) == admission.admitted
            if not admission.admitted:
                assert admission.shortage is not None and admission.shortage
        open_ = scheduler.reservations.active()
        assert sum(r.ram_mb for r in open_) <= ram_free
        for i, g in enumerate(stats.get("gpus", [])):
            on_i = sum(r.vram_mb for r in open_ if i in r.gpu_indices)
            assert on_i <= g["memory_free_mb"]
        if gpus:   # with per-GPU figures every VRAM reservation names its GPU
            assert all(r.gpu_indices for r in open_ if r.vram_mb > 0)


candidates = st.lists(st.builds(
    EvictionCandidate, name=st.text("abcdef", min_size=1, max_size=3),
    last_executed=st.floats(0, 100), busy=st.booleans(), ram_mb=st.floats(0, 5000),
    vram_mb=st.dictionaries(st.integers(0, 2), st.floats(0, 5000), max_size=3)),
    max_size=8, unique_by=lambda c: c.name)
shortages = st.builds(Shortage, ram_mb=st.floats(0, 10000), vram_mb=st.floats(0, 10000),
                      gpu_indices=st.sampled_from([(), (0,), (1,), (0, 1)]))


@settings(max_examples=500)
@given(cands=candidates, shortage=st.one_of(st.none(), shortages),
       protected=st.sets(st.text("abcdef", min_size=1, max_size=3), max_size=3))
def test_victims_are_idle_unprotected_lru_holders_and_just_enough(cands, shortage, protected):
    victims = choose_victims(cands, shortage, protected=protected)
    assert all(not v.busy and v.name not in protected for v in victims)
    assert [v.last_executed for v in victims] == sorted(v.last_executed for v in victims)
    if shortage is None or not victims:
        return
    ram = sum(v.ram_mb for v in victims)
    vram = sum(v.vram_on(shortage.gpu_indices) for v in victims)
    assert ram >= shortage.ram_mb and vram >= shortage.vram_mb            # it makes room
    for v in victims:                                                      # each one helps
        assert (shortage.ram_mb > 0 and v.ram_mb > 0) or \
            (shortage.vram_mb > 0 and v.vram_on(shortage.gpu_indices) > 0)
    shorter = victims[:-1]                                                 # and no more
    assert not (sum(v.ram_mb for v in shorter) >= shortage.ram_mb and
                sum(v.vram_on(shortage.gpu_indices) for v in shorter) >= shortage.vram_mb)


plugins = st.lists(st.tuples(st.integers(0, 6000), st.booleans(), st.floats(0, 100),
                             st.sampled_from([None, 0, 1]), st.integers(0, 20000)),
                   min_size=0, max_size=6)


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(loaded_plugins=plugins, need=st.integers(0, 20000), vram=st.integers(0, 24000),
       pin=st.sampled_from([None, 0, 1]))
def test_manager_admission_never_stops_a_busy_plugin(tmp_path_factory, loaded_plugins, need,
                                                     vram, pin):
    tmp = tmp_path_factory.mktemp("m")
    machine = FakeMachine(tmp / "proc", ram_total_mb=16000, ram_base_mb=1000,
                          gpus=((24000, 0), (24000, 0)))
    manager = PluginManager(search_paths=[], scheduler=SafetyScheduler(),
                            config=CjmConfig(data_dir=tmp / "data"), engine=machine)
    manager.telemetry = machine.telemetry()
    busy = set()
    for i, (memory, is_busy, used, gpu, gpu_mb) in enumerate(loaded_plugins):
        loaded(manager, machine, f"p{i}", memory_mb=memory, last_executed=used,
               gpu_mb={gpu: gpu_mb} if gpu is not None else None)
        if is_busy:
            manager._busy[f"p{i}"] = 1
            busy.add(f"p{i}")
    needy = loaded(manager, machine, "needy", memory_mb=10, ram_mb=need, gpu=bool(vram),
                   vram_mb=vram)
    if pin is not None:
        manager.resources.placements["needy"] = Placement((f"GPU-{pin:08d}-fake",), (pin,))
    try:
        admission = manager.resources.admit(needy)
        assert admission.admitted and admission.reason
    except SchedulingError as exc:
        assert exc.reason
    assert busy <= set(manager.plugins)


@pytest.mark.parametrize("seed_free", [0, 500, 5000])
def test_queue_wait_ends_admitted_or_refused(seed_free):
    clock = iter(range(0, 10**6))
    s = QueueScheduler(timeout=10, poll_interval=1, clock=lambda: next(clock) * 0.5,
                       sleep=lambda _: None)
    a = s.admit(meta("p", ram_mb=1000), lambda: {"memory_available_mb": seed_free})
    assert a.outcome in (Outcome.ADMITTED, Outcome.REFUSED) and a.reason
