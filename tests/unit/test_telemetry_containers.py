"""Container figures computed from stats documents the way `docker stats` does."""

from __future__ import annotations

import pytest

from cjm_docker.telemetry.containers import (
    ContainerStatsReader,
    CpuSample,
    cpu_percent,
    cpu_sample,
    memory_usage_bytes,
    stats_from_document,
)

MIB = 1024 * 1024

# A one-shot sample captured from Docker 20.10 on cgroup v1 (trimmed); `docker stats` showed
# "83.71MiB / 23.54GiB" for it.
V1_DOC = {
    "id": "3d79b60436fb4fe4df4f75f0599e10d5a16559707b761eda81405c3c2fff4bc1",
    "pids_stats": {"current": 1},
    "cpu_stats": {"cpu_usage": {"total_usage": 72720369, "percpu_usage": [15372575, 57347794]},
                  "system_cpu_usage": 1677400000000, "online_cpus": 2},
    "precpu_stats": {"cpu_usage": {"total_usage": 0}},
    "memory_stats": {"usage": 95641600, "stats": {"cache": 7872512, "inactive_file": 7864320,
                                                  "total_inactive_file": 7864320},
                     "limit": 25276510208},
}


def test_memory_matches_docker_stats_on_cgroup_v1():
    assert memory_usage_bytes(V1_DOC) == 95641600 - 7864320
    assert f"{memory_usage_bytes(V1_DOC) / MIB:.2f}MiB" == "83.71MiB"


def test_memory_on_cgroup_v2_subtracts_inactive_file():
    doc = {"memory_stats": {"usage": 100 * MIB, "stats": {"inactive_file": 30 * MIB}}}
    assert memory_usage_bytes(doc) == 70 * MIB


def test_memory_keeps_usage_when_the_cache_figure_is_larger():
    doc = {"memory_stats": {"usage": 10 * MIB, "stats": {"inactive_file": 30 * MIB}}}
    assert memory_usage_bytes(doc) == 10 * MIB
    assert memory_usage_bytes({}) == 0


def test_one_shot_document_has_no_cpu_baseline():
    assert cpu_sample(V1_DOC["precpu_stats"]) is None
    assert stats_from_document(V1_DOC).cpu_percent == 0.0


def test_cpu_percent_is_dockers_formula():
    before = CpuSample(container_ns=1_000_000_000, system_ns=100_000_000_000, online_cpus=4)
    after = CpuSample(container_ns=1_500_000_000, system_ns=104_000_000_000, online_cpus=4)
    # half a CPU-second over one wall second of a 4-CPU machine (system counts all 4 CPUs)
    assert cpu_percent(before, after) == pytest.approx(50.0)
    assert cpu_percent(after, after) == 0.0
    assert cpu_percent(None, after) == 0.0


def test_streamed_document_uses_its_own_precpu():
    doc = dict(V1_DOC, precpu_stats={"cpu_usage": {"total_usage": 72720369 - 10_000_000},
                                     "system_cpu_usage": 1677400000000 - 2_000_000_000,
                                     "online_cpus": 2})
    stats = stats_from_document(doc)
    assert stats.cpu_percent == pytest.approx(10_000_000 / 2_000_000_000 * 2 * 100)
    assert stats.memory_limit_mb == pytest.approx(25276510208 / MIB)
    assert stats.pids == 1


class Source:
    """Serves a growing CPU counter; counts calls."""

    def __init__(self):
        self.calls = 0
        self.gone = False

    def container_stats(self, container_id):
        if self.gone:
            return None
        self.calls += 1
        return {"id": container_id,
                "cpu_stats": {"cpu_usage": {"total_usage": self.calls * 250_000_000},
                              "system_cpu_usage": self.calls * 1_000_000_000, "online_cpus": 2},
                "memory_stats": {"usage": 50 * MIB, "stats": {"inactive_file": 10 * MIB},
                                 "limit": 100 * MIB}}


def test_reader_takes_two_samples_without_a_baseline_and_reuses_it_after():
    now = [0.0]
    slept = []
    source = Source()
    reader = ContainerStatsReader(source, window=0.25, max_age=5.0, clock=lambda: now[0],
                                  sleep=slept.append)
    first = reader.read("c1")
    assert source.calls == 2 and slept == [0.25]
    assert first.cpu_percent == pytest.approx(0.25 / 1.0 * 2 * 100)
    assert first.memory_usage_mb == pytest.approx(40.0)
    assert first.memory_percent == pytest.approx(40.0)
    now[0] += 1.0
    reader.read("c1")
    assert source.calls == 3 and slept == [0.25]       # the previous sample is the baseline
    now[0] += 10.0
    reader.read("c1")
    assert source.calls == 5                            # too old: a fresh pair


def test_reader_memory_only_makes_one_call_and_never_waits():
    source = Source()
    slept = []
    reader = ContainerStatsReader(source, sleep=slept.append)
    stats = reader.read("c1", cpu=False)
    assert source.calls == 1 and slept == [] and stats.memory_usage_mb == pytest.approx(40.0)


def test_reader_returns_none_for_a_removed_container():
    source = Source()
    source.gone = True
    assert ContainerStatsReader(source, sleep=lambda s: None).read("c1") is None
