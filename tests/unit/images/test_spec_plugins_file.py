"""plugins.yaml: cjm-plugin-system's keys work unchanged; ours validate; the schema prints."""

from __future__ import annotations

import json
from pathlib import Path

from cjm_docker.manifest import GpuRequest
from cjm_docker.spec import load_plugins_file, resolve_plugins
from cjm_docker.spec.plugins_file import json_schema, parse_memory
from cjm_docker.spec.resolve import host_python_version

REPO = Path(__file__).resolve().parents[3]

OLD_FORMAT = """
plugins:
  - name: sqlite-graph
    env_name: test-sqlite-graph
    python_version: "3.11"
    package: cjm-graph-plugin-sqlite
    interface_libs:
      - cjm-plugin-system
      - cjm-graph-plugin-system
  - name: whisper-local
    env_name: test-whisper-auto
    env_file: env.yml
    package: "git+https://github.com/cj-mills/cjm-transcription-plugin-whisper.git"
    interface_libs:
      - "git+https://github.com/cj-mills/cjm-plugin-system.git"
"""


def test_cjm_plugin_system_format_loads_unchanged(tmp_path: Path) -> None:
    (tmp_path / "env.yml").write_text("dependencies:\n  - python=3.11\n  - ffmpeg\n  - pip:\n    - torch\n")
    path = tmp_path / "plugins.yaml"
    path.write_text(OLD_FORMAT)
    specs = resolve_plugins(load_plugins_file(path))
    sqlite, whisper = specs
    assert sqlite.import_name == "cjm_graph_plugin_sqlite"
    assert sqlite.env_name == "test-sqlite-graph"
    assert [lib.raw for lib in sqlite.interface_libs] == ["cjm-plugin-system", "cjm-graph-plugin-system"]
    assert sqlite.flavor.value == "python" and sqlite.python_version == "3.11"
    assert whisper.flavor.value == "rattler"  # ffmpeg comes from conda
    assert whisper.import_name == "cjm_transcription_plugin_whisper"
    assert "git" in whisper.system_packages  # pip needs git for git+ URLs


def test_repo_plugins_yaml_is_a_working_example() -> None:
    specs = resolve_plugins(load_plugins_file(REPO / "plugins.yaml"))
    by_name = {s.name: s for s in specs}
    assert set(by_name) >= {"echo", "fileinfo"}
    assert by_name["echo"].system_packages == ()
    assert by_name["fileinfo"].system_packages == ("file",)
    assert by_name["echo"].import_name == "cjm_example_echo"
    assert by_name["echo"].package.project is not None


def test_cjm_docker_keys_become_runtime_settings(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "pyproject.toml").write_text('[project]\nname = "my-plugin"\n')
    path = tmp_path / "plugins.yaml"
    path.write_text("""
plugins:
  - name: full
    package: ./pkg
    base_image: python:3.11-slim
    system_packages: [ffmpeg]
    resources: {memory: 2g, cpus: 1.5, gpu: {count: 2, min_memory_mb: 4000}, pids: 100}
    env: {DEBUG: true, LEVEL: 3}
    volumes: ["./models:/models:ro", {source: /srv/x, target: /x}]
    network: true
    build_args: {A: 1}
""")
    (spec,) = resolve_plugins(load_plugins_file(path))
    res = spec.runtime.resources
    assert res.memory_bytes == 2 * 1024**3 and res.nano_cpus == 1_500_000_000 and res.pids == 100
    assert res.gpu == GpuRequest(count=2, min_memory_mb=4000)
    assert spec.runtime.env == {"DEBUG": "true", "LEVEL": "3"}
    assert spec.runtime.volumes[0].source == str((tmp_path / "models").resolve())
    assert spec.runtime.volumes[0].read_only and not spec.runtime.volumes[1].read_only
    assert spec.runtime.network == "bridge"
    assert spec.build_args == (("A", "1"),)
    assert spec.base_image == "python:3.11-slim"


def test_network_is_off_by_default(tmp_path: Path) -> None:
    path = tmp_path / "plugins.yaml"
    path.write_text("plugins:\n  - name: a\n    package: a-plugin\n  - name: b\n    package: b\n    network: none\n")
    assert [s.runtime.network for s in resolve_plugins(load_plugins_file(path))] == [None, None]


def test_default_python_is_the_hosts(tmp_path: Path) -> None:
    path = tmp_path / "plugins.yaml"
    path.write_text("plugins:\n  - name: a\n    package: a-plugin\n")
    (spec,) = resolve_plugins(load_plugins_file(path))
    assert spec.python_version == host_python_version()


def test_memory_sizes() -> None:
    assert parse_memory("512m") == 512 * 1024**2
    assert parse_memory("1.5GiB") == int(1.5 * 1024**3)
    assert parse_memory(64 * 1024**2) == 64 * 1024**2


def test_schema_describes_every_key() -> None:
    schema = json_schema()
    entry = schema["$defs"]["PluginEntry"]["properties"]
    for key in ("name", "env_name", "env_file", "python_version", "package", "interface_libs",
                "base_image", "system_packages", "resources", "env", "volumes", "network",
                "build_args"):
        assert key in entry, key
    assert schema["$defs"]["PluginEntry"]["additionalProperties"] is False
    json.dumps(schema)


def test_schema_command_prints_json(cjm_ctl, workdir) -> None:
    result = cjm_ctl("schema")
    assert result.code == 0
    assert json.loads(result.out)["title"] == "cjm-docker plugins.yaml"
