"""`cjm-ctl doctor`: each check with fakes, and the command's table and exit code."""

from __future__ import annotations

import pytest

from cjm_docker.config import CjmConfig
from cjm_docker.diagnostics import (
    CheckResult,
    Status,
    check_base_images,
    check_ca_certificates,
    check_disk,
    check_gpus,
    check_proxy,
    check_runtimes,
    run_checks,
)
from cjm_docker.errors import EngineUnavailableError
from cjm_docker.gpu_access import decide
from cjm_docker.telemetry import NoGpuProvider
from tests.fakes.engine import FakeEngine
from tests.fakes.gpu import FakeGpuProvider


def by_name(results):
    return {r.name: r for r in results}


def test_all_checks_on_a_healthy_gpu_machine(tmp_path):
    engine = FakeEngine(("cjm-docker/base-python:3.11", "cjm-docker/base-micromamba:2"),
                        runtimes=("runc", "nvidia"), root=str(tmp_path))
    gpus = FakeGpuProvider([FakeGpuProvider.gpu(0, total_mb=24000, used_mb=1000, name="A10")])
    results = by_name(run_checks(CjmConfig(data_dir=tmp_path, docker={"ca_certificates": []}),
                                 engine_factory=lambda: engine, gpu_provider=gpus,
                                 python_version="3.11"))
    assert results["engine"].status is Status.OK and "27.1.0 (API 1.46)" in results["engine"].detail
    assert results["runtimes"].status is Status.OK
    assert results["gpus"].status is Status.OK and "A10, 23000/24000 MiB free" in results["gpus"].detail
    assert results["base image (python)"].status is Status.OK
    assert results["base image (micromamba)"].status is Status.OK
    assert results["disk (docker)"].status in (Status.OK, Status.WARN, Status.FAIL)
    assert "secret" not in results["proxy"].detail and "user:***@proxy" in results["proxy"].detail


def test_an_unreachable_engine_fails_and_skips_what_needs_it(tmp_path):
    def refuse():
        raise EngineUnavailableError("The Docker engine does not answer.", hint="Start it.")

    results = by_name(run_checks(CjmConfig(data_dir=tmp_path), engine_factory=refuse,
                                 gpu_provider=NoGpuProvider("no driver"), python_version="3.11"))
    assert results["engine"].status is Status.FAIL and results["engine"].remedy == "Start it."
    assert "runtimes" not in results and "base image (python)" not in results
    assert results["gpus"].status is Status.INFO


def test_runtimes_without_nvidia_are_information_only():
    # GPUs may still come through CDI or the toolkit's hook: the "gpu access" row judges that
    assert check_runtimes({"Runtimes": {"runc": {}}}).status is Status.INFO
    assert check_runtimes({"Runtimes": {"runc": {}, "nvidia": {}}}).status is Status.OK


def test_gpu_checks():
    gpu = FakeGpuProvider([FakeGpuProvider.gpu(0, total_mb=8000)])
    none = decide({"Runtimes": {"runc": {}}}, gpus=gpu.gpus())
    runtime = decide({"Runtimes": {"nvidia": {}}})
    assert check_gpus(gpu, none).status is Status.WARN
    assert check_gpus(gpu, runtime).status is Status.OK
    assert check_gpus(NoGpuProvider("x"), runtime).status is Status.WARN
    assert check_gpus(NoGpuProvider("x"), decide({})).status is Status.INFO
    assert check_gpus(NoGpuProvider("x"), None).status is Status.INFO


def test_base_images_missing():
    python, mamba = check_base_images(FakeEngine(images=("cjm-docker/base-python:3.10",)), "3.11")
    assert python.status is Status.WARN and "3.11 missing" in python.detail
    assert mamba.status is Status.WARN and "setup-runtime" in mamba.remedy
    python, _ = check_base_images(FakeEngine(), "3.11")
    assert python.status is Status.FAIL


def test_disk_thresholds(monkeypatch, tmp_path):
    import shutil

    from cjm_docker import diagnostics

    usage = shutil.disk_usage(tmp_path)
    for free_gib, status in ((50, Status.OK), (5, Status.WARN), (1, Status.FAIL)):
        monkeypatch.setattr(diagnostics.shutil, "disk_usage",
                            lambda p, f=free_gib: usage._replace(free=f * 1024**3))
        assert check_disk("data", tmp_path / "not-yet").status is status


def test_ca_certificates(tmp_path):
    good = tmp_path / "good.crt"
    good.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    bad = tmp_path / "bad.crt"
    bad.write_text("nope")
    ok = check_ca_certificates(CjmConfig(docker={"ca_certificates": [good]}))
    assert ok.status is Status.OK and "1 baked" in ok.detail
    broken = check_ca_certificates(CjmConfig(docker={"ca_certificates": [good, bad,
                                                                          tmp_path / "gone"]}))
    assert broken.status is Status.FAIL and "not PEM" in broken.detail
    assert check_ca_certificates(CjmConfig(docker={"ca_certificates": []})).status is Status.INFO


def test_proxy_without_settings_is_info(monkeypatch):
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    assert check_proxy(CjmConfig(), None).status is Status.INFO
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy:3128")
    assert check_proxy(CjmConfig(), None).status is Status.OK


@pytest.mark.parametrize("worst, code", [(Status.WARN, 0), (Status.FAIL, 1)])
def test_the_command_prints_a_table_and_fails_on_failures(cjm_ctl, monkeypatch, worst, code):
    from cjm_docker.cli import doctor

    monkeypatch.setattr(doctor, "run_checks", lambda config: [
        CheckResult("engine", Status.OK, "Docker 27"),
        CheckResult("base image (python)", worst, "cjm-docker/base-python:3.11 missing",
                    "`cjm-ctl setup-runtime`")])
    result = cjm_ctl("doctor")
    assert result.code == code
    for text in ("check", "status", "detail", "what to do", "Docker 27", "setup-runtime"):
        assert text in result.out


def test_doctor_is_a_command_of_the_app():
    from cjm_docker.cli.app import app

    assert "doctor" in {c.name for c in app.registered_commands}

