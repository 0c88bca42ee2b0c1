"""Bounds on the real engine: every container is limited, a plugin's schema cannot stall the
host, odd arguments are typed errors that leave the container serving."""

from __future__ import annotations

import json
import time

import pytest

from cjm_docker.errors import AnswerTooLargeError, ArgumentError, PluginConfigError
from cjm_docker.host.manager import PluginManager
from tests.integration.conftest import unloading

pytestmark = pytest.mark.integration

WORKBENCH = "cjm-test-workbench"
HOSTILE = "cjm-test-hostile-schema"
EVIL = "a" * 30 + "!"


@pytest.fixture
def hostile_manager(cjm_config, test_plugins, engine, tmp_path):
    """The workbench, plus a manifest as a hostile plugin would describe itself: a config
    schema whose pattern backtracks for minutes in Python's re on its own default."""
    folder = tmp_path / "manifests"
    folder.mkdir()
    workbench = test_plugins[WORKBENCH]
    schema = {"type": "object", "properties": {
        "greeting": {"type": "string", "pattern": "^(a+)+$", "default": EVIL}}}
    (folder / f"{WORKBENCH}.json").write_text(json.dumps(workbench))
    (folder / f"{HOSTILE}.json").write_text(json.dumps(
        {**workbench, "name": HOSTILE, "config_schema": schema}))
    mgr = PluginManager(search_paths=[folder], config=cjm_config, engine=engine)
    mgr.discover_manifests()
    with unloading(mgr, engine):
        yield mgr


def test_a_catastrophic_schema_is_refused_at_once_and_others_keep_running(hostile_manager):
    mgr = hostile_manager
    started = time.perf_counter()
    assert mgr.load_plugin(WORKBENCH)
    healthy = time.perf_counter() - started
    before = mgr.execute_plugin(WORKBENCH, action="echo")["pid"]
    started = time.perf_counter()
    with pytest.raises(PluginConfigError, match=HOSTILE):
        mgr.load_plugin(HOSTILE)
    # At once: quicker than a healthy load measured here (~1 s unloaded); the pattern's
    # backtracking would take minutes.
    assert time.perf_counter() - started < max(1.0, healthy)
    assert mgr.execute_plugin(WORKBENCH, action="echo")["pid"] == before  # same container


def test_every_plugin_container_has_default_limits(manager, engine, cjm_config):
    manager.load_plugin(WORKBENCH)
    doc = engine.api.inspect_container(manager.get_plugin(WORKBENCH).container.id)
    host = doc["HostConfig"]
    limits = cjm_config.docker.limits
    assert host["Memory"] == limits.memory_bytes == 4 << 30
    assert host["NanoCpus"] == limits.nano_cpus
    assert host["PidsLimit"] == 512
    assert host["LogConfig"] == {"Type": "json-file",
                                 "Config": {"max-size": "10m", "max-file": "3"}}


def test_odd_arguments_are_typed_errors_and_the_container_keeps_serving(manager):
    manager.load_plugin(WORKBENCH)
    pid = manager.execute_plugin(WORKBENCH, action="echo")["pid"]
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    for kwargs in ({"text": deep}, {"opts": {b"k": 1}}, {"opts": {("a", 1): 2}}):
        with pytest.raises(ArgumentError, match="nothing was sent"):
            manager.execute_plugin(WORKBENCH, action="echo", **kwargs)
    assert manager.execute_plugin(WORKBENCH, action="echo")["pid"] == pid



def test_an_answer_over_the_limit_is_refused_and_the_plugin_keeps_serving(cjm_config, test_plugins,
                                                                         engine):
    docker = cjm_config.docker.model_copy(update={"max_answer_mb": 1.0})
    config = cjm_config.model_copy(update={"docker": docker})
    mgr = PluginManager(search_paths=[cjm_config.manifests_dir], config=config, engine=engine)
    mgr.discover_manifests()
    with unloading(mgr, engine):
        mgr.load_plugin(WORKBENCH)
        pid = mgr.execute_plugin(WORKBENCH, action="echo")["pid"]
        with pytest.raises(AnswerTooLargeError, match="FileBackedDTO"):
            mgr.execute_plugin(WORKBENCH, action="echo", text="x" * 2_000_000)
        assert mgr.execute_plugin(WORKBENCH, action="echo")["pid"] == pid
