"""Scheduling and telemetry on the real engine: memory-limited containers, container figures
checked against `docker stats`, and an idle plugin evicted to admit another.

The low-level tests run a trivial memory-holding python in ``cjm-docker/rootfs:bookworm``; the
manager-level ones use the test workbench plugin image (the ``test_plugins`` session fixture).
Every container carries ``io.cjm.managed=true`` and is removed by a finalizer.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from cjm_docker import labels
from cjm_docker.engine import ContainerSpec
from cjm_docker.errors import SchedulingError
from cjm_docker.host.manager import PluginManager
from cjm_docker.scheduling import SafetyScheduler
from cjm_docker.telemetry import HostStats, NoGpuProvider, Telemetry
from cjm_docker.telemetry.cgroup_stats import CgroupStatsSource
from cjm_docker.telemetry.containers import ContainerStatsReader
from tests.integration.conftest import unloading

pytestmark = pytest.mark.integration

ROOTFS = "cjm-docker/rootfs:bookworm"
TEST_LABEL = "io.cjm.test"
MIB = 1024 * 1024
UNITS = {"B": 1, "KiB": 1024, "MiB": MIB, "GiB": 1024 * MIB, "kB": 1000, "MB": 10**6,
         "GB": 10**9}

HOLD = """
import sys, time
block = bytearray(int(sys.argv[1]) * 1024 * 1024)
for i in range(0, len(block), 4096):
    block[i] = 1
spin = sys.argv[2] == "spin"
print("ready", flush=True)
while True:
    if spin:
        x = 0
        for _ in range(100000):
            x += 1
    else:
        time.sleep(1)
"""


def docker_stats(container_id: str) -> dict:
    """`docker stats --no-stream` for one container, parsed: cpu %, memory and limit in MiB."""
    out = subprocess.run(["docker", "stats", "--no-stream", "--format", "{{json .}}",
                          container_id], capture_output=True, text=True, check=True).stdout
    row = json.loads(out.strip().splitlines()[-1])

    def mib(text: str) -> float:
        number, unit = re.fullmatch(r"([\d.]+)\s*([A-Za-z]+)", text.strip()).groups()
        return float(number) * UNITS[unit] / MIB

    used, limit = (mib(p) for p in row["MemUsage"].split("/"))
    return {"cpu_percent": float(row["CPUPerc"].rstrip("%")), "memory_mb": used,
            "limit_mb": limit, "raw": row}


@pytest.fixture
def holder(engine):
    """Start containers holding memory (and optionally spinning a CPU); removed afterwards."""
    started: list[str] = []
    run_id = uuid.uuid4().hex[:8]

    def start(mb: int, *, spin: bool = False, mem_limit_mb: int | None = None,
              cpus: float | None = None) -> str:
        spec = ContainerSpec(
            image=ROOTFS, name=f"cjm-test-hold-{run_id}-{len(started)}",
            command=["python3", "-c", HOLD, str(mb), "spin" if spin else "idle"],
            labels={labels.MANAGED: "true", TEST_LABEL: run_id},
            mem_limit_bytes=mem_limit_mb * MIB if mem_limit_mb else None,
            nano_cpus=int(cpus * 1e9) if cpus else None)
        container_id = engine.create_and_start(spec)
        started.append(container_id)
        deadline = time.monotonic() + 20
        while "ready" not in engine.container_logs(container_id):
            state = engine.container_state(container_id)
            if state is None or not state.running or time.monotonic() > deadline:
                return container_id      # the caller checks (e.g. an OOM kill)
            time.sleep(0.05)
        return container_id

    yield start
    for container_id in started:
        engine.remove_container(container_id, force=True)
    for state in engine.list_containers({labels.MANAGED: "true", TEST_LABEL: run_id}):
        engine.remove_container(state.id, force=True)


# -- container figures against `docker stats` -------------------------------------------------

@pytest.mark.parametrize("source", ["cgroup", "engine"])
def test_container_figures_match_docker_stats(engine, holder, source):
    container_id = holder(200, spin=True, mem_limit_mb=512, cpus=0.5)
    time.sleep(1.5)                                  # let the CPU quota settle
    stats_source = CgroupStatsSource(engine) if source == "cgroup" else engine
    if source == "cgroup" and CgroupStatsSource().read_cgroup(container_id) is None:
        pytest.skip("the container's cgroup is not visible from here")
    reader = ContainerStatsReader(stats_source, window=0.5)
    started = time.perf_counter()
    ours = reader.read(container_id)
    first_read = time.perf_counter() - started
    theirs = docker_stats(container_id)
    started = time.perf_counter()
    again = reader.read(container_id)
    next_read = time.perf_counter() - started
    print(f"\n[{source}] ours: cpu {ours.cpu_percent:.1f}% mem {ours.memory_usage_mb:.2f} MiB / "
          f"{ours.memory_limit_mb:.0f} MiB (first read {first_read * 1000:.0f} ms; next read "
          f"{next_read * 1000:.1f} ms, cpu {again.cpu_percent:.1f}%) | docker stats: "
          f"{theirs['raw']['CPUPerc']} {theirs['raw']['MemUsage']}")
    assert ours.memory_limit_mb == pytest.approx(512)
    assert theirs["limit_mb"] == pytest.approx(512)
    assert ours.memory_usage_mb == pytest.approx(theirs["memory_mb"], abs=3)
    assert ours.memory_usage_mb > 200
    # Both are samples of a 0.5-CPU quota taken at different moments of a shared machine.
    assert ours.cpu_percent == pytest.approx(theirs["cpu_percent"], abs=20)
    assert 10 <= ours.cpu_percent <= 60
    if source == "cgroup":
        # No collector wait (a whole window) and no engine stats round trip (longer still):
        # a few cgroup files read, ~1 ms unloaded.
        assert next_read < reader.window / 2


def test_a_memory_limited_container_is_limited(engine, holder):
    fits = holder(64, mem_limit_mb=128)
    figures = ContainerStatsReader(engine).read(fits, cpu=False)
    assert figures.memory_limit_mb == pytest.approx(128)
    assert 64 <= figures.memory_usage_mb <= 128
    too_big = holder(256, mem_limit_mb=128)
    deadline = time.monotonic() + 20
    state = engine.container_state(too_big)
    while state.running and time.monotonic() < deadline:
        time.sleep(0.1)
        state = engine.container_state(too_big)
    assert not state.running and state.oom_killed


# -- the manager on real plugin containers ----------------------------------------------------

class SessionBudget:
    """A host with ``budget_mb`` of RAM, of which the session's containers use what the engine
    reports: real container figures, a small enough machine to run out of."""

    def __init__(self, engine, session: str, budget_mb: float):
        self.engine = engine
        self.session = session
        self.budget_mb = budget_mb
        self.reader = ContainerStatsReader(engine)

    def used_mb(self) -> float:
        total = 0.0
        for state in self.engine.list_containers({labels.MANAGED: "true",
                                                  labels.SESSION: self.session}, all=False):
            figures = self.reader.read(state.id, cpu=False)
            total += figures.memory_usage_mb if figures else 0.0
        return total

    def read(self) -> HostStats:
        used = self.used_mb()
        return HostStats(0.0, 1, self.budget_mb, self.budget_mb - used, used)


@pytest.fixture
def sched_manager(cjm_config, test_plugins, engine, tmp_path):
    """Workbench copies with their own names and needs, under a SafetyScheduler."""
    folder: Path = tmp_path / "manifests"
    folder.mkdir()
    base = test_plugins["cjm-test-workbench"]
    variants = {"wb-idle": {"min_system_ram_mb": 1},
                "wb-needy": {"min_system_ram_mb": 64},
                "wb-limited": {"min_system_ram_mb": 1}}
    for name, resources in variants.items():
        runtime = json.loads(json.dumps(base.get("runtime") or {}))
        runtime.setdefault("resources", {})["memory_bytes"] = 256 * MIB
        (folder / f"{name}.json").write_text(json.dumps(
            {**base, "name": name, "resources": resources, "runtime": runtime}))
    mgr = PluginManager(search_paths=[folder], scheduler=SafetyScheduler(), config=cjm_config,
                        engine=engine)
    mgr.discover_manifests()
    with unloading(mgr, engine):
        yield mgr


def test_get_plugin_stats_match_docker_stats(sched_manager):
    sched_manager.load_plugin("wb-limited")
    sched_manager.execute_plugin("wb-limited", action="echo", text="x")
    ours = sched_manager.get_plugin_stats("wb-limited")
    theirs = docker_stats(ours["container_id"])
    print(f"\nget_plugin_stats: cpu {ours['cpu_percent']}% mem {ours['memory_usage_mb']} MiB / "
          f"{ours['memory_limit_mb']} MiB; docker stats: {theirs['raw']['CPUPerc']} "
          f"{theirs['raw']['MemUsage']}; worker: {ours.get('memory_rss_mb')} MiB RSS")
    assert ours["memory_limit_mb"] == pytest.approx(256) == pytest.approx(theirs["limit_mb"])
    assert ours["memory_usage_mb"] == pytest.approx(theirs["memory_mb"], abs=3)
    assert ours["cpu_percent"] == pytest.approx(theirs["cpu_percent"], abs=10)  # both ~idle


def test_an_idle_plugin_is_evicted_to_admit_another(sched_manager, engine):
    m = sched_manager
    m.load_plugin("wb-idle")
    m.execute_plugin("wb-idle", action="echo")
    m.load_plugin("wb-needy")
    idle_container = m.get_plugin("wb-idle").container.id
    budget = SessionBudget(engine, m.session, 0)
    used = budget.used_mb()
    budget.budget_mb = used + 32          # wb-needy needs 64: short by ~32, wb-idle holds more
    m.telemetry = Telemetry(engine, gpu=NoGpuProvider(), host=budget)
    assert m._get_global_stats()["memory_available_mb"] < 64
    assert m.execute_plugin("wb-needy", action="echo", text="room")["text"] == "hello room"
    assert "wb-idle" not in m.plugins
    assert engine.container_state(idle_container) is None         # its container is gone
    assert m.scheduler.reservations.active() == []


def test_a_busy_plugin_is_not_evicted(sched_manager, engine):
    m = sched_manager
    m.load_plugin("wb-idle")
    m.load_plugin("wb-needy")
    budget = SessionBudget(engine, m.session, 0)
    budget.budget_mb = budget.used_mb() + 32
    m.telemetry = Telemetry(engine, gpu=NoGpuProvider(), host=budget)
    runner = threading.Thread(target=m.execute_plugin, args=("wb-idle",),
                              kwargs={"action": "sleep", "seconds": 2})
    runner.start()
    deadline = time.monotonic() + 5
    while not m.is_busy("wb-idle") and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(SchedulingError, match="needs 64MB RAM"):
        m.execute_plugin("wb-needy", action="echo")
    assert "wb-idle" in m.plugins and m.get_plugin("wb-idle").is_alive()
    runner.join(10)
