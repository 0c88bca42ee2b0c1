"""GPU placement: the freest GPU that fits, and only that device handed to the container.

The manager-level tests run the real ``load_plugin`` -> ``PluginContainer._spec`` ->
``Engine.create_and_start`` path against a fake NVML with two GPUs and a recording Docker API
(docker-py's own ``create_host_config``; nothing is started).
"""

from __future__ import annotations

import logging

import docker
import pytest
from scheduling_fakes import FakeMachine, FakeProxy, meta

from cjm_docker import gpu_access
from cjm_docker.config import CjmConfig
from cjm_docker.engine import Engine
from cjm_docker.errors import GpuUnavailableError
from cjm_docker.host import manager as manager_module
from cjm_docker.host.container import PluginContainer
from cjm_docker.host.manager import PluginManager
from cjm_docker.host.runtime_folder import RuntimeFolder
from cjm_docker.manifest import parse_manifest
from cjm_docker.owner import current_owner
from cjm_docker.scheduling import Requirements, SafetyScheduler, choose_gpus, plan_placement
from tests.fakes.gpu import FakeGpuProvider

G = FakeGpuProvider.gpu
TWO = [G(0, total_mb=24000, used_mb=20000), G(1, total_mb=24000, used_mb=2000)]
RUNTIME = gpu_access.decide({"Runtimes": {"runc": {}, "nvidia": {}}}, gpus=TWO)
NO_ACCESS = gpu_access.decide({"Runtimes": {"runc": {}}}, gpus=TWO)


def req(vram=8000, **kw):
    return Requirements(vram_mb=vram, requires_gpu=True, **kw)


# -- pure ------------------------------------------------------------------------------------

def test_cpu_plugin_gets_no_gpu():
    p = plan_placement("p", Requirements(ram_mb=10), access=RUNTIME, gpus=TWO)
    assert p.device_ids == () and p.gpu_indices == () and not p.on_cpu


def test_the_freest_gpu_that_fits_and_only_that_one():
    p = plan_placement("p", req(), access=RUNTIME, gpus=TWO)
    assert p.device_ids == ("GPU-fake-1",) and p.gpu_indices == (1,) and p.fits


def test_reservations_move_the_choice():
    assert choose_gpus(TWO, 3000, reserved={1: 19500}) == (0,)
    assert choose_gpus(TWO, 5000, reserved={1: 19500}) is None


def test_ties_go_to_the_lower_index_and_count_takes_several():
    same = [G(0, total_mb=10000), G(1, total_mb=10000), G(2, total_mb=10000, used_mb=5000)]
    assert choose_gpus(same, 1000) == (0,)
    assert choose_gpus(same, 1000, count=2) == (0, 1)
    assert choose_gpus(same, 6000, count=3) is None


def test_when_nothing_fits_now_it_goes_on_the_freest_with_a_notice():
    p = plan_placement("p", req(23000), access=RUNTIME, gpus=TWO)
    assert p.gpu_indices == (1,) and not p.fits and "No GPU has 23000MB free" in p.notice


def test_more_than_the_largest_gpu_is_an_error():
    with pytest.raises(GpuUnavailableError, match="largest GPU here has 24000MB"):
        plan_placement("p", req(30000), access=RUNTIME, gpus=TWO)
    with pytest.raises(GpuUnavailableError, match="needs 3 GPUs"):
        plan_placement("p", req(1, gpu_count=3), access=RUNTIME, gpus=TWO)


def test_no_nvidia_runtime_falls_back_to_the_cpu_only_when_allowed():
    p = plan_placement("p", req(allow_cpu_fallback=True), access=NO_ACCESS, gpus=TWO)
    assert p.on_cpu and p.device_ids == () and "runs on the CPU" in p.notice
    with pytest.raises(GpuUnavailableError) as info:
        plan_placement("p", req(), access=NO_ACCESS, gpus=TWO)
    assert "no nvidia runtime" in str(info.value) and "allow_cpu_fallback" in str(info.value)


def test_a_user_set_cuda_visible_devices_gets_every_gpu():
    p = plan_placement("p", req(), access=RUNTIME, gpus=TWO,
                       env={"CUDA_VISIBLE_DEVICES": "0"})
    assert p.device_ids == ("GPU-fake-0", "GPU-fake-1") and p.gpu_indices == (0,)
    assert "left as it is" in p.notice
    odd = plan_placement("p", req(), access=RUNTIME, gpus=TWO,
                         env={"CUDA_VISIBLE_DEVICES": "MIG-xyz"})
    assert odd.gpu_indices is None


def test_runtime_without_gpu_figures_hands_gpu_zero():
    p = plan_placement("p", req(), access=RUNTIME, gpus=[])
    assert p.device_ids == ("0",) and p.gpu_indices is None and "unchecked" in p.notice


# -- through the manager, the container spec and the engine's host config --------------------

class RecordingApi:
    """docker-py's real ``create_host_config``; creating and starting are recorded only."""

    def __init__(self, machine):
        self.machine = machine
        self._real = docker.APIClient(base_url="unix:///nonexistent.sock", version="1.41")
        self.created = []

    def create_host_config(self, **kwargs):
        return self._real.create_host_config(**kwargs)

    def create_container(self, image, **kwargs):
        self.created.append(dict(kwargs, image=image))
        return {"Id": self.machine.add(300).id}

    def start(self, container_id):
        pass

    def info(self):
        return self.machine.info()


class SpecProxy(FakeProxy):
    """A RemotePluginProxy stand-in that builds the real ContainerSpec and hands it to the real
    Engine.create_and_start (whose Docker API only records)."""

    def __init__(self, manifest, *, config, engine, session, gpus=None):
        m = parse_manifest(manifest, source="test")
        container = PluginContainer(m, config=config, engine=engine, owner=current_owner(),
                                    session=session)
        folder, _ = RuntimeFolder.create(config.resolved_runtime_dir, container.name)
        self.spec = container._spec(folder, gpus)
        cid = engine.create_and_start(self.spec)
        machine = engine.api.machine
        super().__init__(machine, machine.boxes[cid])

    def initialize(self, config):
        pass


@pytest.fixture
def world(tmp_path, monkeypatch):
    machine = FakeMachine(tmp_path / "proc", gpus=((24000, 20000), (24000, 2000)))
    api = RecordingApi(machine)
    engine = Engine.__new__(Engine)   # the unit-test guard refuses Engine(): no daemon here
    engine._client, engine.api = None, api
    config = CjmConfig(data_dir=tmp_path / "data", runtime_dir=tmp_path / "run")
    monkeypatch.setattr(manager_module, "RemotePluginProxy", SpecProxy)
    # this machine's /etc/cdi and toolkit must not change what the fake engine offers
    monkeypatch.setattr(gpu_access, "probe_host", lambda folders: gpu_access.HostFindings())
    manager = PluginManager(search_paths=[], scheduler=SafetyScheduler(), config=config,
                            engine=engine)
    manager.telemetry = machine.telemetry()
    return manager, machine, api


def test_load_places_on_the_freer_gpu_and_the_container_gets_only_it(world):
    manager, machine, api = world
    manager.load_plugin(meta("llm", gpu=True, vram_mb=8000))
    proxy = manager.get_plugin("llm")
    assert proxy.spec.gpus.device_ids == ("GPU-00000001-fake",)
    assert "CUDA_VISIBLE_DEVICES" not in proxy.spec.env
    requests = api.created[0]["host_config"]["DeviceRequests"]
    assert requests == [{"Driver": "nvidia", "Count": 0, "DeviceIDs": ["GPU-00000001-fake"],
                         "Capabilities": [["gpu"]], "Options": {}}]
    # the execute-time admission counts its VRAM on that GPU
    admission = manager.resources.admit(manager.plugins["llm"])
    assert admission.admitted and admission.gpu_index == 1


def test_cpu_plugins_get_no_device_request(world):
    manager, _, api = world
    manager.load_plugin(meta("cpu", ram_mb=100))
    assert api.created[0]["host_config"].get("DeviceRequests") is None


def test_user_cuda_visible_devices_is_never_rewritten(world):
    manager, _, api = world
    manager.load_plugin(meta("pinned", gpu=True, vram_mb=100, env={"CUDA_VISIBLE_DEVICES": "0"}))
    proxy = manager.get_plugin("pinned")
    assert proxy.spec.env["CUDA_VISIBLE_DEVICES"] == "0"
    assert proxy.spec.gpus.device_ids == ("GPU-00000000-fake", "GPU-00000001-fake")
    assert manager.resources.gpu_indices("pinned") == (0,)


def test_no_nvidia_runtime_cpu_fallback_with_a_notice(world, caplog):
    manager, machine, api = world
    machine.runtimes = ("runc",)
    with caplog.at_level(logging.WARNING):
        manager.load_plugin(meta("ok", gpu=True, vram_mb=8000, allow_cpu_fallback=True))
    assert manager.get_plugin("ok").spec.gpus is None
    assert "runs on the CPU" in caplog.text
    # on the CPU its VRAM need is not checked at execute time
    assert manager.resources.admit(manager.plugins["ok"]).admitted


def test_no_nvidia_runtime_without_fallback_is_a_clear_error_and_starts_nothing(world):
    manager, machine, api = world
    machine.runtimes = ("runc",)
    with pytest.raises(GpuUnavailableError, match="needs a GPU but the Docker engine cannot "
                                                  "hand GPUs to containers"):
        manager.load_plugin(meta("strict", gpu=True, vram_mb=8000))
    assert api.created == [] and "strict" not in manager.plugins


def test_a_full_gpu_is_made_room_on_by_evicting_an_idle_plugin_at_load(world):
    manager, machine, api = world
    manager.load_plugin(meta("first", gpu=True, vram_mb=15000))
    machine.boxes[manager.get_plugin("first").box.id].gpu_mb = {1: 15000}   # it took its VRAM
    manager.load_plugin(meta("second", gpu=True, vram_mb=15000))
    assert "first" not in manager.plugins                         # idle: evicted
    assert manager.get_plugin("second").spec.gpus.device_ids == ("GPU-00000001-fake",)
