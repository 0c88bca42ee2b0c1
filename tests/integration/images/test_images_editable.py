"""The development loop: a plugin marked ``editable: true`` runs its host folder's code, mounted
read-only over the installed copy, so a saved change takes effect on ``reload_plugin`` with no
rebuild (goal: at most 2 s from the save to the new behaviour). A plugin not marked gets no
mount.

The loop is a container replacement, so on a machine busy with other work it takes what a
plugin start takes there: the bound is 2 s or 1.5 times a reload without a change measured just
before, whichever is larger (the fastest edit against the median plain reload; all printed)."""

from __future__ import annotations

import shutil
import statistics
import time
from pathlib import Path

import pytest

from cjm_docker.host.container import EDITABLE_ROOT
from cjm_docker.host.manager import PluginManager
from tests.integration.conftest import unloading

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]
MAX_LOOP_S = 2.0


def _mounts(engine, manager: PluginManager, name: str) -> dict[str, dict]:
    doc = engine.api.inspect_container(manager.get_plugin(name).container.id)
    return {m["Destination"]: m for m in doc["Mounts"]}


def _timed_reload(manager: PluginManager) -> float:
    started = time.perf_counter()
    manager.reload_plugin("cjm-example-echo")
    manager.execute_plugin("cjm-example-echo", text="hi", record=False)
    return time.perf_counter() - started


def test_editable_plugin_reloads_host_code_without_rebuild(project, cjm_ctl, capsys) -> None:
    source = project.root / "echo-dev"
    shutil.copytree(REPO / "examples" / "plugins" / "cjm-example-echo", source)
    plugins = project.write_plugins(
        "plugins:\n  - name: echo-dev\n    python_version: '3.11'\n    package: ./echo-dev\n"
        "    editable: true\n")
    result = cjm_ctl("install-all", "--plugins", str(plugins))
    assert result.code == 0, result.text[-4000:]
    tags_before = project.tags("echo-dev")

    manager = PluginManager(search_paths=[project.manifests], config=project.config,
                            engine=project.engine)
    manager.discover_manifests()
    with unloading(manager, project.engine):
        manager.load_plugin("cjm-example-echo")
        assert manager.execute_plugin("cjm-example-echo", text="hi", record=False)["text"] == "hi"
        mount = _mounts(project.engine, manager, "cjm-example-echo")[
            f"{EDITABLE_ROOT}/cjm_example_echo"]
        assert mount["Source"] == str((source / "cjm_example_echo").resolve())
        assert mount["RW"] is False

        baseline = statistics.median(_timed_reload(manager) for _ in range(3))
        plugin_py = source / "cjm_example_echo" / "plugin.py"
        loops, suffix = [], ""
        for mark in "!?%":  # each edit puts its mark before the earlier ones
            suffix = mark + suffix
            saved = time.perf_counter()
            plugin_py.write_text(plugin_py.read_text().replace(
                'return f"{self.config.prefix}{out}', f'return f"{{self.config.prefix}}{{out}}{mark}'))
            manager.reload_plugin("cjm-example-echo")
            answer = manager.execute_plugin("cjm-example-echo", text="hi", record=False)["text"]
            loops.append(time.perf_counter() - saved)
            assert answer == "hi" + suffix
        loop = statistics.median(loops)
        with capsys.disabled():
            print(f"\nedit -> reload -> new behaviour: median {loop:.2f} s of "
                  f"{', '.join(f'{x:.2f}' for x in loops)} (goal {MAX_LOOP_S} s); "
                  f"a reload without a change: median {baseline:.2f} s")
        # the fastest of three: other work on a shared machine only ever adds time
        assert min(loops) <= max(MAX_LOOP_S, 1.5 * baseline)

        # read-only from inside too: the plugin cannot change the host's files, even one that
        # the container's user could write to
        plugin_py.chmod(0o666)
        container_id = manager.get_plugin("cjm-example-echo").container.id
        probe = project.engine.api.exec_create(
            container_id, ["touch", f"{EDITABLE_ROOT}/cjm_example_echo/plugin.py"])
        output = project.engine.api.exec_start(probe["Id"]).decode()
        assert project.engine.api.exec_inspect(probe["Id"])["ExitCode"] != 0, output
        assert "Read-only" in output
    assert project.tags("echo-dev") == tags_before  # nothing was rebuilt


def test_plugin_not_marked_editable_gets_no_mount(project, cjm_ctl) -> None:
    source = project.root / "echo-plain"
    shutil.copytree(REPO / "examples" / "plugins" / "cjm-example-echo", source)
    plugins = project.write_plugins(
        "plugins:\n  - name: echo-plain\n    python_version: '3.11'\n    package: ./echo-plain\n")
    result = cjm_ctl("install-all", "--plugins", str(plugins))
    assert result.code == 0, result.text[-4000:]
    manager = PluginManager(search_paths=[project.manifests], config=project.config,
                            engine=project.engine)
    manager.discover_manifests()
    with unloading(manager, project.engine):
        manager.load_plugin("cjm-example-echo")
        mounts = _mounts(project.engine, manager, "cjm-example-echo")
        assert not [d for d in mounts if d.startswith(EDITABLE_ROOT)]
        assert not [m for m in mounts.values() if m["Source"].startswith(str(source))]
        plugin_py = source / "cjm_example_echo" / "plugin.py"
        plugin_py.write_text(plugin_py.read_text().replace(
            'return f"{self.config.prefix}{out}"', 'return f"{self.config.prefix}{out}!"'))
        manager.reload_plugin("cjm-example-echo")
        assert manager.execute_plugin("cjm-example-echo", text="hi", record=False)["text"] == "hi"
