"""A plugins.yaml written for cjm-plugin-system, naming a plugin published on PyPI that follows
its meta convention, builds unchanged and yields a correct manifest."""

from __future__ import annotations

import os

import pytest

from cjm_docker import labels
from cjm_docker.engine import ContainerSpec
from cjm_docker.manifest import read_manifest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# As cjm-plugin-system's plugins_test.yaml writes it (a PyPI name instead of a git URL).
OLD_STYLE = """
plugins:
  - name: sqlite-graph
    env_name: test-sqlite-graph
    python_version: "3.11"
    package: cjm-graph-plugin-sqlite
    interface_libs:
      - cjm-plugin-system
      - cjm-graph-plugin-system
"""


def test_cjm_graph_plugin_sqlite_from_pypi(project, cjm_ctl) -> None:
    plugins = project.write_plugins(OLD_STYLE)
    result = cjm_ctl("install-all", "--plugins", str(plugins))
    assert result.code == 0, result.text[-4000:]
    path = project.manifests / "cjm-graph-plugin-sqlite.json"
    manifest = read_manifest(path)
    data_root = project.root / "data" / "data"
    assert manifest.name == "cjm-graph-plugin-sqlite"
    assert manifest.spec_name == "sqlite-graph"
    assert manifest.module == "cjm_graph_plugin_sqlite.plugin"
    assert manifest.class_name == "SQLiteGraphPlugin"
    assert manifest.interface == "cjm_graph_plugin_system.plugin_interface.GraphPlugin"
    assert manifest.category == "knowledge-management"
    assert manifest.resources == {"requires_gpu": False, "min_system_ram_mb": 512}
    # meta.py put its database under $CJM_DATA_DIR/cjm-graph-plugin-sqlite, the host's path
    assert manifest.model_extra["db_path"] == str(data_root / "cjm-graph-plugin-sqlite" / "context_graph.db")
    # the metadata has no config_schema: it came from an instance, as the old tool did
    assert set(manifest.config_schema["properties"]) >= {"db_path", "readonly"}
    assert manifest.python_path == "/opt/venv/bin/python"
    assert manifest.image.startswith(f"{project.prefix}/sqlite-graph:")

    # What is installed in the image (uv's venv has no pip: ask the interpreter itself).
    listing = ("import importlib.metadata as m; "
               "print(*sorted(f\"{d.metadata['Name']}=={d.version}\" for d in m.distributions()))")
    code, out, err = project.engine.run_once(ContainerSpec(
        image=manifest.image, name=f"cjm-test-pipshow-{os.getpid()}",
        command=[manifest.python_path, "-c", listing],
        labels={labels.MANAGED: "true"}))
    assert code == 0, err
    versions = dict(line.split("==") for line in out.split() if "==" in line)
    assert versions["cjm-graph-plugin-sqlite"] == "0.0.2"  # what the resolver picks on 3.11
    assert "cjm-plugin-system" in versions and "cjm-graph-plugin-system" in versions
    # The manifest's lock records exactly what the image holds.
    assert "cjm-graph-plugin-sqlite==0.0.2" in manifest.lock
