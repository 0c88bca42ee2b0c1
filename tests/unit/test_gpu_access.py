"""GPU access on recorded engine and NVML answers: runtime only, CDI only, both, none, MIG.

Each case runs the real detection (``gpu_access.detect``) on a recorded ``docker info``
(tests/fixtures/engines), a replayed NVML (tests/fixtures/nvml) and, for engines on this
machine, CDI spec folders built from tests/fixtures/cdi; then asks for a GPU the way placement
does and checks what the engine would be sent.
"""

from __future__ import annotations

import shutil

import docker
import pytest
from recorded_answers import FIXTURES, RecordedEngine, RecordedNvml

from cjm_docker import cdi, gpu_access
from cjm_docker.engine import ContainerSpec, Engine
from cjm_docker.errors import GpuUnavailableError
from cjm_docker.gpu_access import GpuMode, HostFindings, detect
from cjm_docker.telemetry import NvmlProvider

UUID0 = "GPU-a2f4c0de-0000-4c1b-9f3e-000000000000"
UUID1 = "GPU-a2f4c0de-0000-4c1b-9f3e-000000000001"
MIG0, MIG1 = ("MIG-3e9c7a41-9a0d-5b43-a2c1-7d1b9f0e0001",
              "MIG-3e9c7a41-9a0d-5b43-a2c1-7d1b9f0e0002")


def nvml(name="two-gpus"):
    return NvmlProvider(nvml=RecordedNvml(name))


def host(*spec_files, hook=None):
    """A probe standing in for this machine: the given spec files in one folder, a hook or not."""
    def probe(folders):
        found: set[str] = set()
        for name in spec_files:
            path = FIXTURES / "cdi" / name
            found.update(cdi.names_in_spec(cdi.parse_spec(path.read_text(), path.suffix)))
        return HostFindings(tuple(sorted(found)), spec_files, hook)
    return probe


def test_runtime_only_asks_the_nvidia_driver_for_the_uuid():
    access = detect(RecordedEngine("runtime-only-24.0"), nvml(), probe=host())
    assert access.mode is GpuMode.RUNTIME and access.available == (GpuMode.RUNTIME,)
    assert [d.uuid for d in access.devices] == [UUID0, UUID1]
    request = access.request([UUID1])
    assert (request.driver, request.device_ids, request.runtime) == ("nvidia", (UUID1,), None)
    assert request.describe() == f"--gpus device={UUID1}"


def test_cdi_only_from_the_spec_folders_asks_by_cdi_name():
    access = detect(RecordedEngine("cdi-only-27.3"), nvml(),
                    probe=host("nvidia.yaml", "other-vendor.yaml", "broken.yaml"))
    assert access.mode is GpuMode.CDI and "spec files in /etc/cdi" in access.reason
    assert access.cdi_names == ("nvidia.com/gpu=0", "nvidia.com/gpu=1", "nvidia.com/gpu=all")
    request = access.request([UUID1])          # placement names GPUs by NVML UUID
    assert (request.driver, request.device_ids) == ("cdi", ("nvidia.com/gpu=1",))
    assert request.describe() == "--device nvidia.com/gpu=1"


def test_cdi_names_by_uuid_are_used_when_the_spec_has_them():
    access = detect(RecordedEngine("cdi-only-27.3"), nvml(), probe=host("nvidia-uuid.json"))
    assert access.request([UUID0]).device_ids == (f"nvidia.com/gpu={UUID0}",)


def test_cdi_devices_the_engine_reports_need_no_spec_files():
    access = detect(RecordedEngine("cdi-discovered-28.3"), nvml(), probe=host())
    assert access.mode is GpuMode.CDI and "the engine reports 3" in access.reason
    assert "example.com/fpga=0" not in access.cdi_names
    # an engine elsewhere: its own list is all there is, and it is enough
    remote = detect(RecordedEngine("cdi-discovered-28.3"), nvml(), local=False)
    assert remote.request(["0"]).device_ids == ("nvidia.com/gpu=0",)


def test_both_prefer_the_runtime_unless_the_setting_says_cdi():
    access = detect(RecordedEngine("both-28.3"), nvml(), probe=host())
    assert access.mode is GpuMode.RUNTIME and access.available == (GpuMode.RUNTIME, GpuMode.CDI)
    chosen = detect(RecordedEngine("both-28.3"), nvml(), probe=host(), prefer=GpuMode.CDI)
    assert chosen.mode is GpuMode.CDI and chosen.request([UUID0]).device_ids == ("nvidia.com/gpu=0",)


def test_none_says_what_was_looked_at():
    access = detect(RecordedEngine("none-27.3"), nvml(), probe=host("nvidia.yaml"))
    assert access.mode is GpuMode.NONE and not access.usable and access.request([UUID0]) is None
    for said in ("no nvidia runtime", "CDI off in the engine", "nvidia-container-runtime-hook",
                 "CDI specs exist in", "NVML sees 2 GPU(s)"):
        assert said in access.reason
    wanted = detect(RecordedEngine("none-27.3"), nvml(), probe=host(), prefer=GpuMode.CDI)
    assert wanted.mode is GpuMode.NONE and "docker.gpu_mode is cdi" in wanted.reason


def test_no_nvidia_runtime_is_not_no_gpu_when_the_toolkit_hook_is_there():
    access = detect(RecordedEngine("none-27.3"), nvml(),
                    probe=host(hook="/usr/bin/nvidia-container-runtime-hook"))
    assert access.mode is GpuMode.RUNTIME and "hook is installed" in access.reason
    assert access.request([UUID0]).driver == "nvidia"


def test_an_engine_without_device_requests_gets_runtime_and_visible_devices():
    access = detect(RecordedEngine("legacy-runtime-18.09"), nvml(), probe=host())
    request = access.request([UUID0])
    assert access.legacy_runtime and request.driver is None and request.runtime == "nvidia"
    assert dict(request.env) == {"NVIDIA_VISIBLE_DEVICES": UUID0}


def test_mig_devices_are_listed_and_a_mig_gpu_is_handed_over_as_its_mig_devices():
    provider = nvml("mig-a100")
    access = detect(RecordedEngine("cdi-mig-28.3"), provider, probe=host())
    assert [(d.slot, d.uuid) for d in access.devices if d.mig_index is not None] == \
        [("0:0", MIG0), ("0:1", MIG1)]
    assert access.request([UUID0]).device_ids == (f"nvidia.com/gpu={MIG0}",
                                                  f"nvidia.com/gpu={MIG1}")
    assert access.request([UUID1]).device_ids == (f"nvidia.com/gpu={UUID1}",)
    assert access.request(["0:1"]).device_ids == ("nvidia.com/gpu=0:1",)   # the name as given
    runtime = gpu_access.decide({"Runtimes": {"nvidia": {}}}, gpus=provider.gpus(),
                                migs=provider.mig_devices())
    assert runtime.request([UUID0]).device_ids == (MIG0, MIG1)
    assert runtime.request(["1"]).device_ids == ("1",)


def test_a_gpu_missing_from_the_cdi_spec_is_a_clear_error():
    access = detect(RecordedEngine("cdi-discovered-28.3"), nvml("mig-a100"), probe=host())
    with pytest.raises(GpuUnavailableError, match="do not include GPU") as info:
        access.request([UUID0])   # a MIG GPU, but this spec has no MIG devices
    assert "nvidia-ctk cdi generate" in str(info.value)


def test_spec_folders_are_read_from_disk(tmp_path):
    for name in ("nvidia.yaml", "nvidia-uuid.json", "other-vendor.yaml", "broken.yaml"):
        shutil.copy(FIXTURES / "cdi" / name, tmp_path / name)
    (tmp_path / "huge.yaml").write_bytes(b"#" * (cdi.MAX_SPEC_BYTES + 1))
    names, files = cdi.read_spec_folders([tmp_path, tmp_path / "absent"])
    assert names == ("nvidia.com/gpu=0", "nvidia.com/gpu=1", f"nvidia.com/gpu={UUID0}",
                     f"nvidia.com/gpu={UUID1}", "nvidia.com/gpu=all")
    assert [f.rsplit("/", 1)[1] for f in files] == ["nvidia-uuid.json", "nvidia.yaml"]


class RecordingApi:
    """docker-py's real ``create_host_config``; creating is recorded, nothing is started."""

    def __init__(self):
        self._real = docker.APIClient(base_url="unix:///nonexistent.sock", version="1.44")
        self.created = []

    def create_host_config(self, **kwargs):
        return self._real.create_host_config(**kwargs)

    def create_container(self, image, **kwargs):
        self.created.append(kwargs)
        return {"Id": "c" * 64}

    def start(self, container_id):
        pass


@pytest.mark.parametrize("engine_name, ids, host_config, env", [
    ("runtime-only-24.0", [UUID1], {"DeviceRequests": [
        {"Driver": "nvidia", "Count": 0, "DeviceIDs": [UUID1], "Capabilities": [["gpu"]],
         "Options": {}}]}, {}),
    ("cdi-discovered-28.3", [UUID1], {"DeviceRequests": [
        {"Driver": "cdi", "Count": 0, "DeviceIDs": ["nvidia.com/gpu=1"], "Capabilities": [],
         "Options": {}}]}, {}),
    ("legacy-runtime-18.09", [UUID0], {"Runtime": "nvidia"},
     {"NVIDIA_VISIBLE_DEVICES": UUID0}),
])
def test_the_engine_is_sent_the_request(engine_name, ids, host_config, env):
    request = detect(RecordedEngine(engine_name), nvml(), probe=host()).request(ids)
    api = RecordingApi()
    engine = Engine.__new__(Engine)   # no daemon in unit tests
    engine._client, engine.api = None, api
    engine.create_and_start(ContainerSpec(image="img", name="n", command=["true"],
                                          env={"A": "1"}, gpus=request))
    sent = api.created[0]
    for key, value in host_config.items():
        assert sent["host_config"][key] == value
    assert "Runtime" in host_config or "Runtime" not in sent["host_config"]
    assert sent["environment"] == {"A": "1", **env}


SMI_LIST = """\
GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-a2f4c0de-0000-4c1b-9f3e-000000000000)
  MIG 3g.20gb     Device  0: (UUID: MIG-3e9c7a41-9a0d-5b43-a2c1-7d1b9f0e0001)
  MIG 2g.10gb     Device  1: (UUID: MIG-3e9c7a41-9a0d-5b43-a2c1-7d1b9f0e0002)
GPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-a2f4c0de-0000-4c1b-9f3e-000000000001)
"""


def test_mig_devices_from_nvidia_smi_where_nvml_cannot_be_loaded():
    from cjm_docker.telemetry import NvidiaSmiProvider
    from cjm_docker.telemetry.nvidia_smi import parse_mig_list

    migs = parse_mig_list(SMI_LIST)
    assert [(m.parent_index, m.mig_index, m.uuid) for m in migs] == [(0, 0, MIG0), (0, 1, MIG1)]
    assert migs[1].name == "NVIDIA A100-SXM4-40GB MIG 2g.10gb"
    provider = NvidiaSmiProvider(executable="nvidia-smi", runner=lambda argv: SMI_LIST)
    assert provider.mig_devices() == migs
    access = gpu_access.decide({"Runtimes": {"nvidia": {}}}, gpus=nvml("mig-a100").gpus(),
                               migs=provider.mig_devices())
    assert access.request([UUID0]).device_ids == (MIG0, MIG1)
