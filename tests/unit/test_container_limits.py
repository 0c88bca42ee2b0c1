"""Default limits reach every container cjm-docker starts; cjm.yaml and plugins.yaml override."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from cjm_docker.config import load_config
from cjm_docker.engine_types import HelperLimits
from cjm_docker.errors import ConfigError
from cjm_docker.images.describe import helper_limits, introspection_container
from cjm_docker.spec.resolve import load_specs

PLUGINS = Path(__file__).parents[1] / "plugins" / "plugins.yaml"


class Plan:
    python_path = "/opt/venv/bin/python"


def test_the_introspection_container_gets_the_default_limits(tmp_path):
    config = load_config(data_dir=tmp_path)
    spec = load_specs(PLUGINS)[1][0]
    container = introspection_container("sha256:x", spec, Plan(), config)
    assert container.mem_limit_bytes == 4 << 30
    assert container.nano_cpus == 2_000_000_000
    assert container.pids_limit == 512
    assert (container.log_max_size, container.log_max_files) == ("10m", 3)


def test_cjm_yaml_changes_the_defaults(tmp_path):
    (tmp_path / "cjm.yaml").write_text(
        "docker:\n  limits: {memory: 1g, cpus: 0.5, pids: 64, log_max_size: 1m, "
        "log_max_files: 2}\n  max_answer_mb: 8\n")
    config = load_config(tmp_path / "cjm.yaml", data_dir=tmp_path)
    limits = config.docker.limits
    assert (limits.memory_bytes, limits.nano_cpus, limits.pids) == (1 << 30, 500_000_000, 64)
    assert config.docker.max_answer_bytes == 8 << 20
    container = introspection_container("sha256:x", load_specs(PLUGINS)[1][0], Plan(), config)
    assert (container.mem_limit_bytes, container.log_max_size) == (1 << 30, "1m")
    # a plugin that sets no `pids` takes cjm.yaml's (plugins.yaml's default once hid it)
    assert (container.nano_cpus, container.pids_limit) == (500_000_000, 64)


def test_build_helpers_get_the_plugin_resources_else_the_cjm_yaml_limits(tmp_path):
    (tmp_path / "cjm.yaml").write_text("docker:\n  limits: {memory: 2g, cpus: 1, pids: 200}\n")
    config = load_config(tmp_path / "cjm.yaml", data_dir=tmp_path)
    spec = load_specs(PLUGINS)[1][0]
    assert helper_limits(spec, config) == HelperLimits(memory_bytes=2 << 30, nano_cpus=10**9,
                                                       pids=200)
    own = dataclasses.replace(spec, runtime=spec.runtime.model_copy(update={
        "resources": spec.runtime.resources.model_copy(update={"memory_bytes": 1 << 30,
                                                               "pids": 64})}))
    assert helper_limits(own, config) == HelperLimits(memory_bytes=1 << 30, nano_cpus=10**9,
                                                      pids=64)


@pytest.mark.parametrize("bad", ["memory: lots", "cpus: 0", "pids: -1",
                                 "log_max_size: '10m\\nx'", "log_max_size: 5x"])
def test_bad_limits_in_cjm_yaml_are_config_errors(tmp_path, bad):
    (tmp_path / "cjm.yaml").write_text(f"docker:\n  limits: {{{bad}}}\n")
    with pytest.raises(ConfigError, match="limits"):
        load_config(tmp_path / "cjm.yaml", data_dir=tmp_path)


def _manifest(name: str = "echo", resources: dict | None = None):
    from cjm_docker.manifest import parse_manifest
    return parse_manifest({"name": name, "module": "m", "class": "C", "image": "img:1",
                           "runtime": {"resources": resources or {}}}, source="test")


def _container(tmp_path, manifest, runtime_dir=None):
    from cjm_docker.config import CjmConfig
    from cjm_docker.engine_kind import recognise
    from cjm_docker.host.container import PluginContainer
    from cjm_docker.owner import current_owner

    class LocalEngine:  # the profile of a plain local Linux engine, asked of no daemon
        _cjm_profile = recognise({"OperatingSystem": "Debian GNU/Linux 12 (bookworm)"},
                                 "unix:///var/run/docker.sock")

    config = CjmConfig(data_dir=tmp_path / "data", runtime_dir=runtime_dir or tmp_path / "run")
    return PluginContainer(manifest, config=config, engine=LocalEngine(), owner=current_owner(),
                           session="abcd1234")


def test_a_worker_gets_the_defaults_unless_its_spec_sets_its_own(tmp_path):
    from cjm_docker.host.runtime_folder import RuntimeFolder
    plain = _container(tmp_path, _manifest())
    folder, _ = RuntimeFolder.create(plain.config.resolved_runtime_dir, plain.name)
    spec = plain._spec(folder, ())
    assert (spec.mem_limit_bytes, spec.nano_cpus, spec.pids_limit) == (4 << 30, 2 * 10**9, 512)
    assert (spec.log_max_size, spec.log_max_files) == ("10m", 3)
    own = _container(tmp_path, _manifest(resources={"memory_bytes": 1 << 30,
                                                    "nano_cpus": 10**9, "pids": 64}))
    folder, _ = RuntimeFolder.create(own.config.resolved_runtime_dir, own.name)
    spec = own._spec(folder, ())
    assert (spec.mem_limit_bytes, spec.nano_cpus, spec.pids_limit) == (1 << 30, 10**9, 64)


def test_a_long_name_keeps_the_socket_path_short(tmp_path):
    from cjm_docker.errors import ManifestError
    from cjm_docker.host.runtime_folder import RuntimeFolder
    from cjm_docker.name_rule import MAX_NAME_LENGTH
    with pytest.raises(ManifestError, match="at most 64"):   # 90 characters: a typed refusal
        _manifest("a" + "-b" * 45)
    name = "a" * MAX_NAME_LENGTH                                 # the longest allowed
    base = Path("/tmp/cjm-docker-1000")
    container = _container(tmp_path, _manifest(name), runtime_dir=base)
    assert len(str(RuntimeFolder(base / container.name).socket)) <= 107


def test_a_socket_path_over_the_kernel_limit_is_a_clear_error_before_anything_starts(tmp_path):
    from cjm_docker.errors import PluginStartError
    deep = tmp_path / ("x" * 60) / ("y" * 40)
    container = _container(tmp_path, _manifest(), runtime_dir=deep)
    with pytest.raises(PluginStartError, match="over the kernel's limit of 107") as caught:
        container.start()
    assert "runtime_dir" in str(caught.value) and "'echo'" in str(caught.value)
    assert not deep.exists()
