"""docker-compose of the example plugins, then a host in attach mode executes on each."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cjm_docker import labels
from cjm_docker.deploy import orchestrators
from cjm_docker.deploy.compose import PROJECT_LABEL
from cjm_docker.host.manager import PluginManager
from cjm_docker.host.reaper import find_orphans
from cjm_docker.interface import FileBackedDTO
from tests.integration.deploy_support import (
    example_bundle,
    remove_project_leftovers,
    unique_project,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class TextFile(FileBackedDTO):
    """A FileBackedDTO: crosses by the shared exchange folder, never through HTTP."""

    def __init__(self, folder, text: str):
        self.folder, self.text = folder, text

    def to_temp_file(self) -> str:
        path = self.folder / "note.txt"
        path.write_text(self.text)
        return str(path)


@pytest.fixture
def bundle(example_plugins, cjm_config, tmp_path):
    return example_bundle(cjm_config, tmp_path / "compose", unique_project())


@pytest.fixture
def deployed(bundle, engine, cjm_ctl) -> Iterator:
    """`cjm-ctl up` of the folder (docker compose up -d, then wait until ready); `cjm-ctl down`
    and removal by label afterwards, even when the test fails."""
    try:
        result = cjm_ctl("up", "--out", str(bundle.folder), "--timeout", "120")
        assert result.code == 0, result.text
        yield bundle
    finally:
        try:
            orchestrators.compose_down(bundle)
        finally:
            remove_project_leftovers(engine, bundle.project)


def test_the_compose_file_passes_docker_compose_config(bundle) -> None:
    merged = orchestrators.compose_config(bundle)
    assert "cjm-example-echo" in merged and "cjm-example-fileinfo" in merged


def test_compose_up_then_a_host_attaches_and_executes_on_each(deployed, cjm_config, engine,
                                                               tmp_path) -> None:
    containers = engine.list_containers({labels.MANAGED: "true", PROJECT_LABEL: deployed.project})
    assert sorted(c.labels[labels.PLUGIN] for c in containers) == [
        "cjm-example-echo", "cjm-example-fileinfo"]
    assert all(c.running for c in containers)
    assert all(not c.labels.get(labels.OWNER_PID) for c in containers)  # no host process owns them
    assert not [o for o in find_orphans(engine, include_foreign=True)   # and gc leaves them alone
                if o.container.labels.get(PROJECT_LABEL) == deployed.project]

    manager = PluginManager(search_paths=[], config=cjm_config, engine=engine)
    try:
        attached = manager.attach_deployment(deployed.folder)
        assert attached == ["cjm-example-echo", "cjm-example-fileinfo"]
        manager.load_plugin("cjm-example-echo", {"prefix": "> ", "repeat": 2})
        manager.load_plugin("cjm-example-fileinfo")

        echo = manager.execute_plugin("cjm-example-echo", text="hi")
        assert echo["text"] == "> hi hi"
        info = manager.execute_plugin("cjm-example-fileinfo", path=TextFile(tmp_path, "hello"))
        assert info["mime_type"] == "text/plain" and info["size"] == 5
        assert info["path"].startswith(str(cjm_config.exchange_dir))

        chunks = list(manager.execute_plugin_stream_sync("cjm-example-echo", text="a b"))
        assert chunks == [">", "a", "b", "a", "b"]  # "> a b a b", word by word
        assert manager.get_plugin_config("cjm-example-echo")["prefix"] == "> "
        stats = manager.get_plugin_stats("cjm-example-echo")
        assert stats["pid"] > 0 and stats["busy"] is False
        assert "serving cjm_example_echo.plugin:EchoPlugin" in \
            manager.get_plugin_logs("cjm-example-echo", 20)
    finally:
        manager.unload_all()
    # Unloading released the workers; the deployment still runs them.
    assert all(c.running for c in engine.list_containers(
        {labels.MANAGED: "true", PROJECT_LABEL: deployed.project}))
