"""The telemetry snapshot and the 0.0.x stats dict it produces."""

from __future__ import annotations

import pytest
from scheduling_fakes import FakeMachine

from cjm_docker.telemetry import HostStats, NoGpuProvider, Telemetry, TelemetrySnapshot
from cjm_docker.telemetry.host import HostMonitor


@pytest.fixture
def machine(tmp_path):
    return FakeMachine(tmp_path / "proc", ram_total_mb=16000, ram_base_mb=2000,
                       gpus=((24000, 20000), (16000, 2000)))


def test_stats_have_the_keys_old_schedulers_read(machine):
    box = machine.add(1000, {1: 1000})
    stats = machine.telemetry().stats()
    assert stats["memory_total_mb"] == pytest.approx(16000)
    assert stats["memory_used_mb"] == pytest.approx(3000)
    assert stats["memory_available_mb"] == pytest.approx(13000)
    assert stats["cpu_percent"] == 12.5
    assert stats["gpu_type"] == "NVIDIA"
    # gpu_free_memory_mb is the freest GPU's, as a 0.0.x scheduler expects
    assert stats["gpu_free_memory_mb"] == pytest.approx(16000 - 3000)
    assert stats["gpu_total_memory_mb"] == pytest.approx(40000)
    assert stats["gpu_used_memory_mb"] == pytest.approx(20000 + 3000)
    assert stats["gpu_load_percent"] == 20
    assert [g["index"] for g in stats["gpus"]] == [0, 1]
    assert stats["gpus"][1]["temperature_c"] == 41
    assert stats["details"]["details"]["gpu_0"]["memory_free"] == pytest.approx(4000)
    assert stats["details"]["processes"] == [{"pid": box.pid, "gpu": 1, "memory_used": 1000.0}]
    assert stats["gpu_source"] == "nvml"


def test_without_gpus_the_gpu_memory_keys_are_absent(machine):
    telemetry = Telemetry(machine, gpu=NoGpuProvider("none here"), host=HostMonitor(machine))
    stats = telemetry.stats()
    assert stats["gpu_type"] == "None" and stats["gpus"] == []
    assert "gpu_free_memory_mb" not in stats and "gpu_total_memory_mb" not in stats
    assert stats["memory_available_mb"] == pytest.approx(14000)


def test_snapshot_reports_what_given_plugin_containers_hold(machine):
    a = machine.add(1500, {0: 4000})
    b = machine.add(700)
    snap = machine.telemetry().snapshot({"a": a.id, "b": b.id, "gone": "f" * 64})
    assert snap.plugins["a"].memory_mb == pytest.approx(1500)
    assert dict(snap.plugins["a"].gpu_memory_mb) == {0: 4000.0}
    assert snap.plugins["b"].memory_mb == pytest.approx(700)
    assert snap.plugins["gone"].memory_mb is None
    assert snap.to_stats()["plugins"]["a"] == {"memory_mb": pytest.approx(1500),
                                               "gpu_memory_mb": {0: 4000.0}}


def test_snapshot_async_matches(machine):
    import asyncio

    snap = asyncio.run(machine.telemetry().snapshot_async())
    assert isinstance(snap, TelemetrySnapshot) and len(snap.gpus) == 2


def test_freest_gpu_ties_go_to_the_lower_index():
    host = HostStats(0, 1, 1, 1, 0)
    from tests.fakes.gpu import FakeGpuProvider

    gpus = (FakeGpuProvider.gpu(0, total_mb=10), FakeGpuProvider.gpu(1, total_mb=10))
    assert TelemetrySnapshot(host, gpus).freest_gpu().index == 0


def test_host_monitor_uses_psutil_by_default():
    stats = HostMonitor().read()
    assert stats.memory_total_mb > 0 and 0 <= stats.memory_available_mb <= stats.memory_total_mb
