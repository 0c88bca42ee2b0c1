"""Compose export as data: services, secrets, limits, GPUs, healthcheck, deterministic YAML,
the deployment folder, and validation by the real compose tools (no daemon needed)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from cjm_docker import labels
from cjm_docker.deploy.bundle import (
    COMPOSE_FILE,
    GPU_FILE,
    installed_manifests,
    read_bundle,
    write_bundle,
)
from cjm_docker.deploy.compose import (
    EXTENSION,
    HEALTH_PROBE,
    ComposeOptions,
    compose_document,
    dump_yaml,
    gpu_override_document,
    memory_text,
    plan_services,
    service_name,
)
from cjm_docker.errors import ConfigError, ManifestError, SpecError
from cjm_docker.manifest import Manifest, write_manifest


def manifest(name: str = "cjm-example-echo", **runtime: Any) -> Manifest:
    return Manifest.model_validate({
        "name": name, "version": "0.1.0", "module": f"{name.replace('-', '_')}.plugin",
        "class": "Plugin", "image": f"cjm-plugin/{name}:0123456789abcdef", "spec_name": name,
        "env_vars": {"OMP_NUM_THREADS": "1"}, "runtime": runtime})


@pytest.fixture
def options(tmp_path: Path) -> ComposeOptions:
    return ComposeOptions(project="cjmt", base_port=18100, data_root=tmp_path / "data",
                          exchange_dir=tmp_path / "exchange", models_dir=tmp_path / "models",
                          user="10001:10001", start_period=45)


def document(options: ComposeOptions, *manifests: Manifest) -> dict[str, Any]:
    return compose_document(plan_services(list(manifests), options), options)


def test_one_service_per_plugin_runs_the_worker_on_tcp_with_its_secret(options) -> None:
    doc = document(options, manifest("echo"), manifest("fileinfo"))
    assert doc["version"] == "3.8"
    assert list(doc["services"]) == ["echo", "fileinfo"]
    echo = doc["services"]["echo"]
    assert echo["image"] == "cjm-plugin/echo:0123456789abcdef"
    assert echo["command"] == ["python", "-m", "cjm_docker.worker", "--module", "echo.plugin",
                               "--class", "Plugin", "--port", "8000", "--host", "0.0.0.0",
                               "--token-file", "/run/secrets/echo-token"]
    assert "--lease-file" not in echo["command"]  # leases are for host-started containers
    assert echo["secrets"] == ["echo-token"]
    assert {k: v["file"] for k, v in doc["secrets"].items()} == {
        "echo-token": "./secrets/echo.token", "fileinfo-token": "./secrets/fileinfo.token"}
    assert doc["secrets"]["echo-token"]["labels"][labels.MANAGED] == "true"
    assert echo["ports"] == ["127.0.0.1:18100:8000"]
    assert doc["services"]["fileinfo"]["ports"] == ["127.0.0.1:18101:8000"]
    assert echo["user"] == "10001:10001"
    assert echo["networks"] == ["cjm"]
    assert doc["networks"]["cjm"]["attachable"] is True


def test_secure_defaults_and_labels(options) -> None:
    echo = document(options, manifest("echo"))["services"]["echo"]
    assert echo["cap_drop"] == ["ALL"]
    assert echo["security_opt"] == ["no-new-privileges:true"]
    assert echo["init"] is True
    assert echo["restart"] == "unless-stopped"
    expected = {labels.MANAGED: "true", labels.PLUGIN: "echo", labels.ROLE: "service",
                "io.cjm.project": "cjmt"}
    assert expected.items() <= echo["labels"].items()
    assert expected.items() <= echo["deploy"]["labels"].items()
    assert "read_only" not in echo


def test_environment_and_mounts_match_host_started_containers(options, tmp_path) -> None:
    echo = document(options, manifest("echo", env={"GREETING": "hi"}))["services"]["echo"]
    env = echo["environment"]
    assert env == dict(sorted(env.items()))
    assert env["CJM_DATA_DIR"] == str(tmp_path / "data")
    assert env["CJM_PLUGIN_DATA_DIR"] == str(tmp_path / "data" / "echo")
    assert env["CJM_MODELS_DIR"] == str(tmp_path / "models")
    assert (env["GREETING"], env["OMP_NUM_THREADS"], env["HOME"]) == ("hi", "1", "/tmp")
    same_path = [(v["source"], v["target"]) for v in echo["volumes"]]
    assert same_path == [(str(tmp_path / p), str(tmp_path / p))
                         for p in ("data/echo", "exchange", "models")]


def test_extra_volumes_read_only_root_and_networks(options) -> None:
    m = manifest("echo", volumes=[{"source": "/srv/in", "target": "/in", "read_only": True}],
                 read_only_rootfs=True, network="lab-net")
    doc = document(options, m, manifest("web", network="bridge"))
    echo = doc["services"]["echo"]
    assert {"type": "bind", "source": "/srv/in", "target": "/in", "read_only": True} \
        in echo["volumes"]
    assert {"type": "tmpfs", "target": "/tmp"} in echo["volumes"]
    assert echo["read_only"] is True
    assert echo["networks"] == ["cjm", "lab-net"]
    assert doc["services"]["web"]["networks"] == ["cjm"]  # outbound access: the project network
    assert doc["networks"]["lab-net"] == {"external": True, "name": "lab-net"}


def test_memory_and_cpu_limits(options) -> None:
    m = manifest("echo", resources={"memory_bytes": 512 * 1024**2, "nano_cpus": 1_500_000_000})
    limits = document(options, m)["services"]["echo"]["deploy"]["resources"]["limits"]
    assert limits == {"cpus": "1.5", "memory": "512M"}
    assert "resources" not in document(options, manifest("bare"))["services"]["bare"]["deploy"]
    assert [memory_text(n) for n in (2 * 1024**3, 1536 * 1024**2, 10 * 1024**2 + 1024,
                                     7 * 1024**2 + 1)] == ["2G", "1536M", "10241K", "7340033b"]


def test_cjm_yaml_default_limits_reach_a_service_whose_plugin_sets_none(tmp_path) -> None:
    from cjm_docker.config import load_config
    (tmp_path / "cjm.yaml").write_text("docker:\n  limits: {memory: 1g, cpus: 0.5}\n")
    options = ComposeOptions.from_config(load_config(tmp_path / "cjm.yaml", data_dir=tmp_path))
    bare = document(options, manifest("bare"))["services"]["bare"]["deploy"]["resources"]
    assert bare["limits"] == {"cpus": "0.5", "memory": "1G"}
    own = manifest("own", resources={"memory_bytes": 512 * 1024**2})
    assert document(options, own)["services"]["own"]["deploy"]["resources"]["limits"] == \
        {"cpus": "0.5", "memory": "512M"}


def test_gpu_reservations_swarm_form_in_the_file_compose_form_in_the_layer(options) -> None:
    gpu = manifest("whisper", resources={"gpu": {"count": 2, "min_memory_mb": 4000}})
    plans = plan_services([gpu, manifest("echo")], options)
    doc = compose_document(plans, options)
    reservations = doc["services"]["whisper"]["deploy"]["resources"]["reservations"]
    assert reservations == {"generic_resources": [
        {"discrete_resource_spec": {"kind": "NVIDIA-GPU", "value": 2}}]}
    assert "resources" not in doc["services"]["echo"]["deploy"]
    layer = gpu_override_document(plans)
    assert layer == {"version": "3.8", "services": {"whisper": {"deploy": {"resources": {
        "reservations": {"devices": [{"driver": "nvidia", "count": 2,
                                      "capabilities": ["gpu"]}]}}}}}}
    assert gpu_override_document(plan_services([manifest("echo")], options)) is None


def test_healthcheck_probes_readiness_with_python(options) -> None:
    check = document(options, manifest("echo"))["services"]["echo"]["healthcheck"]
    assert check["test"] == ["CMD", "python", "-c", HEALTH_PROBE]
    assert check["start_period"] == "45s"
    assert "http://127.0.0.1:8000/health" in HEALTH_PROBE and "'ready', 'busy'" in HEALTH_PROBE
    compile(HEALTH_PROBE, "probe", "exec")


def test_dollar_signs_are_escaped_for_interpolation(options) -> None:
    doc = document(options, manifest("echo", env={"PRICE": "$5 ${HOME}"}))
    assert doc["services"]["echo"]["environment"]["PRICE"] == "$$5 $${HOME}"


def test_ports_explicit_and_collisions(options) -> None:
    pinned = ComposeOptions(**{**options.__dict__, "ports": {"fileinfo": 19000}})
    plans = plan_services([manifest("echo"), manifest("fileinfo")], pinned)
    assert [(p.service, p.port) for p in plans] == [("echo", 18100), ("fileinfo", 19000)]
    clash = ComposeOptions(**{**options.__dict__, "ports": {"fileinfo": 18100}})
    with pytest.raises(SpecError, match="both publish port 18100"):
        plan_services([manifest("echo"), manifest("fileinfo")], clash)
    with pytest.raises(SpecError, match="both be service 'a-b'"):
        plan_services([manifest("a.b"), manifest("A-B")], options)
    with pytest.raises(SpecError, match="not a TCP port"):
        plan_services([manifest("echo")], ComposeOptions(base_port=70000))


def test_service_names_are_lower_case_dns_friendly() -> None:
    assert service_name("My.Plugin_v2") == "my-plugin_v2"
    assert service_name("...") == "plugin"


def test_yaml_is_deterministic_and_has_no_anchors(options) -> None:
    a = manifest("echo", env={"B": "2", "A": "1"})
    b = manifest("echo", env={"A": "1", "B": "2"})
    first = dump_yaml(document(options, a), header="header")
    assert first == dump_yaml(document(options, b), header="header")
    assert first.startswith("# header\n")
    assert "&id" not in first and "*id" not in first  # labels appear twice, never as an alias
    assert yaml.safe_load(first) == document(options, a)


def test_bundle_round_trip_keeps_tokens_and_protects_them(options, tmp_path) -> None:
    folder = tmp_path / "compose"
    bundle = write_bundle([manifest("echo")], folder, options)
    token_file = folder / "secrets" / "echo.token"
    token = token_file.read_text()
    assert len(token) >= 40
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o400
    assert (folder / "secrets" / ".gitignore").read_text().endswith("*\n")
    assert (folder / "manifests" / "echo.json").is_file()
    assert (tmp_path / "data" / "echo").is_dir() and (tmp_path / "exchange").is_dir()
    again = write_bundle([manifest("echo")], folder, options)
    assert token_file.read_text() == token  # Swarm secrets are immutable: keep the token
    assert again == bundle
    plugin = bundle.plugins["echo"]
    assert (plugin.service, plugin.port, plugin.url) == ("echo", 18100, "http://127.0.0.1:18100")
    assert plugin.token_file == folder.resolve() / "secrets" / "echo.token"
    assert plugin.swarm_service("cjmt") == "cjmt_echo"
    assert plugin.visible_roots == (tmp_path / "data" / "echo", tmp_path / "exchange",
                                    tmp_path / "models")
    assert bundle.project == "cjmt" and not bundle.gpu
    assert read_bundle(folder / COMPOSE_FILE) == bundle


def test_bundle_writes_and_removes_the_gpu_layer(options, tmp_path) -> None:
    folder = tmp_path / "compose"
    gpu = manifest("whisper", resources={"gpu": {"count": 1}})
    assert write_bundle([gpu], folder, options).gpu
    assert (folder / GPU_FILE).is_file()
    bundle = write_bundle([manifest("echo")], folder, options)
    assert not bundle.gpu and not (folder / GPU_FILE).exists()
    assert bundle.compose_files() == [folder.resolve() / COMPOSE_FILE]


def test_read_bundle_refuses_foreign_files(tmp_path) -> None:
    (tmp_path / COMPOSE_FILE).write_text("version: '3.8'\nservices: {}\n")
    with pytest.raises(ConfigError, match="x-cjm"):
        read_bundle(tmp_path)
    with pytest.raises(ConfigError, match="Cannot read"):
        read_bundle(tmp_path / "missing")


def test_installed_manifests_by_either_name(tmp_path) -> None:
    m = manifest("cjm-example-echo").model_copy(update={"spec_name": "echo"})
    write_manifest(m, tmp_path)
    assert [x.name for x in installed_manifests(["echo"], tmp_path)] == ["cjm-example-echo"]
    assert installed_manifests(["cjm-example-echo"], tmp_path)[0].spec_name == "echo"
    with pytest.raises(ManifestError, match="install-all"):
        installed_manifests(["nope"], tmp_path)


# -- the real tools (client side only: no daemon) ---------------------------------------------

def _tool(*argv: str) -> list[str]:
    if shutil.which(argv[0]) is None:
        pytest.skip(f"{argv[0]} is not installed")
    return list(argv)


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=60, env=env)


@pytest.fixture
def full_bundle(options, tmp_path):
    manifests = [
        manifest("echo", resources={"memory_bytes": 256 * 1024**2, "nano_cpus": 10**9},
                 env={"PRICE": "$5"}),
        manifest("whisper", resources={"gpu": {"count": 1}}, read_only_rootfs=True,
                 volumes=[{"source": str(tmp_path), "target": "/in", "read_only": True}]),
    ]
    return write_bundle(manifests, tmp_path / "compose", options)


def test_docker_compose_v1_accepts_the_file_and_the_gpu_layer(full_bundle) -> None:
    argv = _tool("docker-compose")
    result = _run([*argv, "-f", COMPOSE_FILE, "config"], full_bundle.folder)
    assert result.returncode == 0, result.stderr
    merged = yaml.safe_load(result.stdout)
    # `config` prints a compose file again, so the literal "$5" comes back escaped (unescaped,
    # "$5" would be refused as an invalid interpolation).
    assert merged["services"]["echo"]["environment"]["PRICE"] == "$$5"
    assert merged["services"]["echo"]["ports"][0].startswith("127.0.0.1:18100:8000")
    layered = _run([*argv, "-f", COMPOSE_FILE, "-f", GPU_FILE, "config"], full_bundle.folder)
    assert layered.returncode == 0, layered.stderr
    devices = yaml.safe_load(layered.stdout)["services"]["whisper"]["deploy"]["resources"][
        "reservations"]["devices"]
    assert devices == [{"capabilities": ["gpu"], "count": 1, "driver": "nvidia"}]


def test_docker_compose_v2_accepts_the_file(full_bundle) -> None:
    argv = _tool("docker", "compose")
    if _run([*argv, "version"], full_bundle.folder).returncode != 0:
        pytest.skip("the `docker compose` plugin (v2) is not installed")
    result = _run([*argv, "-f", COMPOSE_FILE, "config"], full_bundle.folder)
    assert result.returncode == 0, result.stderr


def test_docker_stack_deploy_accepts_the_same_file(full_bundle) -> None:
    argv = _tool("docker", "stack", "config")
    probe = _run([*argv, "--help"], full_bundle.folder)
    if probe.returncode != 0:
        pytest.skip("this docker CLI has no `docker stack config`")
    result = _run([*argv, "-c", COMPOSE_FILE], full_bundle.folder)
    assert result.returncode == 0, result.stderr
    stack = yaml.safe_load(result.stdout)
    whisper = stack["services"]["whisper"]
    assert whisper["deploy"]["resources"]["reservations"]["generic_resources"][0][
        "discrete_resource_spec"] == {"kind": "NVIDIA-GPU", "value": 1}
    assert stack["secrets"]["whisper-token"]["file"].endswith("secrets/whisper.token")
    assert stack["services"]["echo"]["environment"]["PRICE"] == "$5"  # interpolated once
    assert EXTENSION not in stack["services"]


def test_gpu_layer_asks_for_cdi_devices_where_the_engine_offers_gpus_by_cdi(options) -> None:
    from dataclasses import replace

    from recorded_answers import RecordedEngine, RecordedNvml

    from cjm_docker.gpu_access import GpuAccess, GpuMode, HostFindings, detect
    from cjm_docker.telemetry import NvmlProvider

    access = detect(RecordedEngine("cdi-discovered-28.3"),
                    NvmlProvider(nvml=RecordedNvml("two-gpus")), probe=lambda f: HostFindings())
    plans = plan_services([manifest("whisper", resources={"gpu": {"count": 2}})], options)
    devices = gpu_override_document(plans, access)["services"]["whisper"]["deploy"][
        "resources"]["reservations"]["devices"]
    assert devices == [{"driver": "cdi", "capabilities": ["gpu"],
                        "device_ids": ["nvidia.com/gpu=0", "nvidia.com/gpu=1"]}]
    # nothing known about the devices (no engine answered): CDI names by index
    blind = gpu_override_document(plans, GpuAccess(GpuMode.CDI, "chosen"))
    assert blind["services"]["whisper"]["deploy"]["resources"]["reservations"]["devices"][0][
        "device_ids"] == ["nvidia.com/gpu=0", "nvidia.com/gpu=1"]
    # the runtime mode keeps the nvidia driver by count
    runtime = gpu_override_document(plans, replace(access, mode=GpuMode.RUNTIME))
    assert runtime["services"]["whisper"]["deploy"]["resources"]["reservations"]["devices"] == [
        {"driver": "nvidia", "count": 2, "capabilities": ["gpu"]}]


def test_docker_compose_v1_accepts_the_cdi_gpu_layer(options, tmp_path) -> None:
    from dataclasses import replace

    from cjm_docker.gpu_access import GpuAccess, GpuMode

    argv = _tool("docker-compose")
    cdi_options = replace(options, gpu_access=GpuAccess(GpuMode.CDI, "chosen"))
    bundle = write_bundle([manifest("whisper", resources={"gpu": {"count": 1}})],
                          tmp_path / "compose", cdi_options)
    layered = _run([*argv, "-f", COMPOSE_FILE, "-f", GPU_FILE, "config"], bundle.folder)
    assert layered.returncode == 0, layered.stderr
    devices = yaml.safe_load(layered.stdout)["services"]["whisper"]["deploy"]["resources"][
        "reservations"]["devices"]
    assert devices == [{"capabilities": ["gpu"], "device_ids": ["nvidia.com/gpu=0"],
                        "driver": "cdi"}]


def test_compose_settings_follow_this_machines_engine(monkeypatch) -> None:
    from recorded_answers import RecordedEngine

    from cjm_docker import engine as engine_module
    from cjm_docker import gpu_access
    from cjm_docker.config import CjmConfig
    from cjm_docker.deploy.target import engine_settings
    from cjm_docker.errors import EngineUnavailableError
    from cjm_docker.gpu_access import GpuMode, HostFindings

    monkeypatch.setattr(gpu_access, "probe_host", lambda folders: HostFindings())
    monkeypatch.setattr(engine_module, "Engine", lambda: RecordedEngine("rootless-24.0"))
    rootless = engine_settings(CjmConfig())
    assert rootless["user"] == "0:0" and rootless["gpu_access"].mode is GpuMode.NONE
    assert engine_settings(CjmConfig(), gpus=False) == {"user": "0:0"}   # no GPU plugin
    monkeypatch.setattr(engine_module, "Engine", lambda: RecordedEngine("cdi-discovered-28.3"))
    assert engine_settings(CjmConfig())["gpu_access"].mode is GpuMode.CDI
    assert engine_settings(CjmConfig(), "runtime")["gpu_access"].mode is GpuMode.NONE

    def refuse():
        raise EngineUnavailableError("no engine")

    monkeypatch.setattr(engine_module, "Engine", refuse)
    assert engine_settings(CjmConfig()) == {}
    assert engine_settings(CjmConfig(), "cdi")["gpu_access"].mode is GpuMode.CDI
