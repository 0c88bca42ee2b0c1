"""A plugin published on PyPI for cjm-plugin-system 0.0.x runs unmodified."""

from __future__ import annotations

import asyncio

import pytest

pytestmark = pytest.mark.integration

NODES = [{"id": "n1", "label": "Person", "properties": {"name": "Ada"}},
         {"id": "n2", "label": "Person", "properties": {"name": "Alan"}}]


@pytest.fixture
def legacy_manager(cjm_config, legacy_plugin, engine):
    from cjm_docker.host.manager import PluginManager

    with PluginManager(search_paths=[cjm_config.manifests_dir], config=cjm_config,
                       engine=engine) as mgr:
        yield mgr


def test_pypi_plugin_for_cjm_plugin_system_runs_unmodified(legacy_manager, legacy_plugin, cjm_config):
    mgr, name = legacy_manager, legacy_plugin
    meta = mgr.discover_manifests() and mgr.get_discovered_meta(name)
    assert meta.manifest["interface"] == "cjm_graph_plugin_system.plugin_interface.GraphPlugin"
    assert meta.config_schema["properties"]["readonly"]["default"] is False

    assert mgr.load_plugin(name)                                  # schema defaults
    assert mgr.get_plugin_config(name) == {"db_path": None, "readonly": False}
    created = mgr.execute_plugin(name, action="add_nodes", nodes=NODES)
    assert created == {"created_ids": ["n1", "n2"], "count": 2}
    assert mgr.execute_plugin(name, action="get_schema")["counts"] == {"Person": 2}
    exported = mgr.execute_plugin(name, action="export_graph")     # a dataclass result
    assert sorted(n["id"] for n in exported["nodes"]) == ["n1", "n2"]

    async def stream() -> list:
        return [c async for c in mgr.execute_plugin_stream(name, action="get_schema")]

    assert asyncio.run(stream()) == [{"node_labels": ["Person"], "edge_types": [],
                                      "counts": {"Person": 2}}]

    db = cjm_config.plugin_data_dir / name / "context_graph.db"
    assert db.exists()                                           # on the host, same path
    assert mgr.reload_plugin(name)
    assert mgr.execute_plugin(name, action="get_schema")["counts"] == {"Person": 2}
    assert mgr.unload_plugin(name)
    assert mgr.get_plugin(name) is None
