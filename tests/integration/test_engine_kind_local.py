"""This machine's real engine: recognised as a local Linux engine on the Unix transport, its GPU
access detected without a GPU, and `cjm-ctl doctor` showing both."""

from __future__ import annotations

import os

import pytest

from cjm_docker.config import CjmConfig, Transport
from cjm_docker.engine_kind import EngineKind, profile_of
from cjm_docker.gpu_access import GpuMode, gpu_access_for
from cjm_docker.telemetry import detect_gpu_provider
from tests.integration.conftest import run_ctl


def test_the_development_engine_is_a_local_linux_engine_on_the_unix_transport(engine):
    if os.environ.get("DOCKER_HOST", "unix://").split("://")[0] not in ("unix", ""):
        pytest.skip(f"DOCKER_HOST={os.environ['DOCKER_HOST']} is not this machine's socket")
    profile = profile_of(engine)
    assert profile.kind is EngineKind.LOCAL
    assert profile.check_transport(Transport.AUTO) is Transport.UNIX
    assert profile.describe().startswith("local Linux engine, unix transport (unix://")
    assert profile.mounts_reachable and profile.host_files_are_engine_files


def test_gpu_access_of_the_real_engine_agrees_with_what_it_lists(engine):
    provider = detect_gpu_provider()
    access = gpu_access_for(engine, provider, CjmConfig())
    info = engine.info()
    if "nvidia" in (info.get("Runtimes") or {}):
        assert access.mode is GpuMode.RUNTIME
    elif not info.get("CDISpecDirs") and not access.available:
        assert access.mode is GpuMode.NONE and "no nvidia runtime" in access.reason
    assert bool(access.devices) == bool(provider.gpus())


def test_doctor_shows_the_engine_kind_and_gpu_access(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")   # one line per row: the table wraps at 80 otherwise
    proc = run_ctl("doctor", data_dir=tmp_path, check=False)
    out = " ".join(proc.stdout.split())
    assert "engine kind" in out and "local Linux engine, unix transport" in out
    assert "gpu access" in out


def test_gpu_requests_reach_the_real_engine_in_both_shapes_and_leave_nothing(engine):
    """Without a GPU the engine refuses both; what it names shows which request it got."""
    import uuid

    from cjm_docker import labels
    from cjm_docker.engine import ContainerSpec
    from cjm_docker.errors import EngineError
    from cjm_docker.gpu_access import GpuAccess

    access = gpu_access_for(engine, detect_gpu_provider(), CjmConfig())
    if access.available:
        pytest.skip("this engine can hand GPUs over: bench/gpu_check.py is the check here")
    image = next((t for i in engine.list_images() for t in i.get("RepoTags") or []
                  if t.startswith("cjm-docker/base-python")), None)
    if image is None:
        pytest.skip("no base image (cjm-ctl setup-runtime)")
    for mode, named in ((GpuMode.RUNTIME, '"nvidia"'), (GpuMode.CDI, "cdi")):
        request = GpuAccess(mode, "asked for in a test").request(["0"])
        name = f"cjm-gputest-{uuid.uuid4().hex[:8]}"
        with pytest.raises(EngineError) as info:
            engine.create_and_start(ContainerSpec(image=image, name=name, command=["true"],
                                                  gpus=request, labels={labels.MANAGED: "true"}))
        assert named in str(info.value)
        assert [c for c in engine.list_containers({labels.MANAGED: "true"}) if c.name == name] == []
