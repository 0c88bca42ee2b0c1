"""Default limits reach every container cjm-docker starts; cjm.yaml and plugins.yaml override."""

from __future__ import annotations

from pathlib import Path

import pytest

from cjm_docker.config import load_config
from cjm_docker.errors import ConfigError
from cjm_docker.images.describe import introspection_container
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


@pytest.mark.parametrize("bad", ["memory: lots", "cpus: 0", "pids: -1",
                                 "log_max_size: '10m\\nx'", "log_max_size: 5x"])
def test_bad_limits_in_cjm_yaml_are_config_errors(tmp_path, bad):
    (tmp_path / "cjm.yaml").write_text(f"docker:\n  limits: {{{bad}}}\n")
    with pytest.raises(ConfigError, match="limits"):
        load_config(tmp_path / "cjm.yaml", data_dir=tmp_path)
