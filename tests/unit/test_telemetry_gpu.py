"""GPU providers (a fake NVML, captured nvidia-smi output) and GPU processes mapped to containers."""

from __future__ import annotations

import subprocess

import pytest
from scheduling_fakes import FakeMachine

from cjm_docker.telemetry import (
    NoGpuProvider,
    NvidiaSmiProvider,
    NvmlProvider,
    detect_gpu_provider,
)
from cjm_docker.telemetry.cgroups import container_id_in_cgroup, gpu_memory_by_container
from cjm_docker.telemetry.gpu import GpuProcess
from cjm_docker.telemetry.nvidia_smi import parse_gpus, parse_processes
from tests.fakes.gpu import FakeGpuProvider

CID = "a" * 64


@pytest.fixture
def machine(tmp_path):
    return FakeMachine(tmp_path / "proc", gpus=((24000, 20000), (24000, 2000)))


def test_nvml_provider_reads_every_gpu(machine):
    provider = NvmlProvider(nvml=machine)
    gpus = provider.gpus()
    assert [g.index for g in gpus] == [0, 1]
    assert gpus[0].name == "Fake A100"                        # bytes decoded
    assert gpus[0].uuid == "GPU-00000000-fake"
    assert gpus[0].memory_free_mb == pytest.approx(4000)
    assert gpus[1].memory_free_mb == pytest.approx(22000)
    assert gpus[1].utilization_percent == 20 and gpus[1].temperature_c == 41
    assert provider.available() and provider.driver_version() == "550.00"


def test_nvml_provider_processes_map_to_containers(machine):
    box = machine.add(500, {1: 3000})
    provider = NvmlProvider(nvml=machine)
    procs = provider.processes()
    assert procs == [GpuProcess(box.pid, 1, "GPU-00000001-fake", 3000.0)]
    assert gpu_memory_by_container(procs, machine.proc_root) == {box.id: {1: 3000.0}}


def test_nvml_error_means_unavailable_not_a_crash(machine):
    machine.nvml_fails = True
    provider = NvmlProvider(nvml=machine)
    assert provider.gpus() == [] and provider.processes() == []
    assert not provider.available()
    assert "Driver Not Loaded" in provider.last_error


def test_nvml_unsupported_fields_are_none(machine):
    def unsupported(*a):
        raise machine.NVMLError("Not Supported")

    machine.nvmlDeviceGetUtilizationRates = unsupported
    machine.nvmlDeviceGetTemperature = unsupported
    gpu = NvmlProvider(nvml=machine).gpus()[0]
    assert gpu.utilization_percent is None and gpu.temperature_c is None


SMI_GPUS = """\
0, GPU-6f3a1b2c-0000-0000-0000-000000000000, NVIDIA H100 80GB HBM3, 81559, 20000, 61559, 35, 41
1, GPU-6f3a1b2c-1111-0000-0000-000000000000, NVIDIA A10, PCIe, 23028, 100, 22928, [N/A], [N/A]
"""
SMI_APPS = """\
4242, GPU-6f3a1b2c-1111-0000-0000-000000000000, 1536
4343, GPU-6f3a1b2c-0000-0000-0000-000000000000, [N/A]
"""


def test_nvidia_smi_output_is_parsed():
    gpus = parse_gpus(SMI_GPUS)
    assert [(g.index, g.memory_free_mb) for g in gpus] == [(0, 61559), (1, 22928)]
    assert gpus[1].name == "NVIDIA A10, PCIe"                 # a comma inside the name
    assert gpus[1].utilization_percent is None and gpus[1].temperature_c is None
    procs = parse_processes(SMI_APPS, gpus)
    assert procs == [GpuProcess(4242, 1, gpus[1].uuid, 1536.0),
                     GpuProcess(4343, 0, gpus[0].uuid, None)]


def test_nvidia_smi_provider_runs_the_queries():
    seen = []

    def runner(argv):
        seen.append(argv)
        return SMI_GPUS if any(a.startswith("--query-gpu") for a in argv) else SMI_APPS

    provider = NvidiaSmiProvider(executable="/usr/bin/nvidia-smi", runner=runner)
    assert len(provider.gpus()) == 2 and len(provider.processes()) == 2
    assert seen[0][-1] == "--format=csv,noheader,nounits"
    assert seen[0][1].startswith("--query-gpu=index,uuid,name,memory.total")


def test_nvidia_smi_failure_is_unavailable():
    def runner(argv):
        raise subprocess.CalledProcessError(9, argv)

    provider = NvidiaSmiProvider(executable="nvidia-smi", runner=runner)
    assert provider.gpus() == [] and "nvidia-smi failed" in provider.last_error
    assert not NvidiaSmiProvider(executable="", runner=runner).available()


def test_detection_prefers_nvml_then_nvidia_smi_then_none(machine):
    nvml = NvmlProvider(nvml=machine)
    assert detect_gpu_provider([lambda: nvml]) is nvml
    broken = FakeMachine(machine.proc_root)
    broken.nvml_fails = True
    smi = FakeGpuProvider([FakeGpuProvider.gpu(0, total_mb=1000)])
    assert detect_gpu_provider([lambda: NvmlProvider(nvml=broken), lambda: smi]) is smi
    none = detect_gpu_provider([lambda: NvmlProvider(nvml=broken)])
    assert isinstance(none, NoGpuProvider) and "nvml" in none.last_error


@pytest.mark.parametrize("text, expected", [
    (f"12:memory:/docker/{CID}\n11:cpu:/docker/{CID}\n", CID),
    (f"0::/system.slice/docker-{CID}.scope\n", CID),
    (f"0::/kubepods/burstable/pod1/cri-containerd-{CID}.scope\n", CID),
    ("0::/user.slice/user-1000.slice/session-3.scope\n", None),
    ("0::/\n", None),
])
def test_container_id_in_cgroup(text, expected):
    assert container_id_in_cgroup(text) == expected


def test_host_and_vanished_processes_are_not_containers(tmp_path):
    (tmp_path / "1").mkdir()
    (tmp_path / "1" / "cgroup").write_text("0::/init.scope\n")
    procs = [GpuProcess(1, 0, "u", 100.0), GpuProcess(99999, 0, "u", 100.0)]
    assert gpu_memory_by_container(procs, tmp_path) == {}
