"""Stats documents read from cgroup v1 and v2 files, and the engine fallback."""

from __future__ import annotations

import os

import pytest

from cjm_docker.telemetry.cgroup_stats import CgroupStatsSource, system_cpu
from cjm_docker.telemetry.containers import ContainerStatsReader, stats_from_document
from tests.fakes.engine import FakeEngine

CID = "b" * 64
MIB = 1024 * 1024
TICK = os.sysconf("SC_CLK_TCK")


@pytest.fixture
def proc(tmp_path):
    root = tmp_path / "proc"
    root.mkdir()
    (root / "stat").write_text("cpu  100 0 50 850 0 0 0 0 0 0\ncpu0 50 0 25 425 0 0 0 0 0 0\n"
                               "cpu1 50 0 25 425 0 0 0 0 0 0\nintr 1\n")
    (root / "meminfo").write_text("MemTotal:       16384000 kB\nMemFree: 1 kB\n")
    return root


def write(folder, files):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)


def test_system_cpu_is_dockerds_figure(proc):
    total, cpus = system_cpu(proc)
    assert total == 1000 * 1_000_000_000 // TICK and cpus == 2


def test_cgroup_v1_cgroupfs_driver(tmp_path, proc):
    root = tmp_path / "cg"
    write(root / "memory" / "docker" / CID, {
        "memory.usage_in_bytes": str(300 * MIB), "memory.limit_in_bytes": "9223372036854771712",
        "memory.stat": f"cache {60 * MIB}\ntotal_inactive_file {50 * MIB}\n"})
    write(root / "cpuacct" / "docker" / CID, {"cpuacct.usage": "123456789"})
    write(root / "pids" / "docker" / CID, {"pids.current": "4\n"})
    doc = CgroupStatsSource(cgroup_root=root, proc_root=proc).container_stats(CID)
    stats = stats_from_document(doc)
    assert stats.memory_usage_mb == pytest.approx(250)
    assert stats.memory_limit_bytes == 16384000 * 1024     # no limit: the machine's memory
    assert stats.pids == 4 and doc["cpu_stats"]["cpu_usage"]["total_usage"] == 123456789


def test_cgroup_v2_systemd_driver(tmp_path, proc):
    root = tmp_path / "cg"
    write(root, {"cgroup.controllers": "cpu memory pids"})
    write(root / "system.slice" / f"docker-{CID}.scope", {
        "memory.current": str(100 * MIB), "memory.max": str(256 * MIB),
        "memory.stat": f"anon {80 * MIB}\ninactive_file {20 * MIB}\n",
        "cpu.stat": "usage_usec 2000\nuser_usec 1500\n", "pids.current": "2"})
    doc = CgroupStatsSource(cgroup_root=root, proc_root=proc).container_stats(CID)
    stats = stats_from_document(doc)
    assert stats.memory_usage_mb == pytest.approx(80) and stats.memory_limit_mb == 256
    assert doc["cpu_stats"]["cpu_usage"]["total_usage"] == 2_000_000 and stats.pids == 2


def test_invisible_cgroup_falls_back_to_the_engine(tmp_path, proc):
    engine = FakeEngine(stats={CID: {"id": CID, "from": "engine"}})
    source = CgroupStatsSource(engine, cgroup_root=tmp_path / "none", proc_root=proc)
    assert source.container_stats(CID)["from"] == "engine"
    assert CgroupStatsSource(cgroup_root=tmp_path / "none").container_stats(CID) is None


def test_reader_over_cgroup_files_measures_cpu_between_reads(tmp_path, proc):
    root = tmp_path / "cg"
    write(root / "memory" / "docker" / CID, {"memory.usage_in_bytes": str(MIB),
                                             "memory.limit_in_bytes": str(2 * MIB)})
    cpu = root / "cpuacct" / "docker" / CID
    write(cpu, {"cpuacct.usage": "0"})
    def one_second_later(_):
        # half a CPU-second used in one wall second of a 2-CPU machine (2 s of system time)
        (cpu / "cpuacct.usage").write_text(str(500_000_000))
        (proc / "stat").write_text(f"cpu  {100 + TICK} 0 50 {850 + TICK} 0 0 0\ncpu0\ncpu1\n")

    reader = ContainerStatsReader(CgroupStatsSource(cgroup_root=root, proc_root=proc),
                                  sleep=one_second_later)
    assert reader.read(CID).cpu_percent == pytest.approx(50.0)   # as `docker stats` shows it
