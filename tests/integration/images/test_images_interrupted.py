"""An interrupted install leaves the old consistent state or the new one, never a mix.

A real `cjm-ctl install-all --force` subprocess is killed (SIGKILL) or interrupted (SIGINT, as
Ctrl-C) while it builds, while its introspection container runs, and while its final commit's
helper container exists. After each: the manifest names an image that exists by id, `list`
and `install-all` agree on whether it is current, the interrupted process's helper containers
are gone (by itself after SIGINT; by `cjm-ctl gc` after SIGKILL), and a plain install then
makes it current.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cjm_docker import labels
from cjm_docker.host.reaper import ROLES

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]
PLUGIN = "echo-interrupted"
CTL = [sys.executable, "-m", "cjm_docker.cli.app"]


def ctl(project, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*CTL, *args], capture_output=True, text=True, timeout=900,
                          cwd=project.root, env={**os.environ, "COLUMNS": "250",
                                               "CJM_CONFIG": str(project.root / "cjm.yaml")})
    if check:
        assert proc.returncode == 0, f"cjm-ctl {' '.join(args)}: {proc.stdout}\n{proc.stderr}"
    return proc


def helpers_of(engine, pid: int) -> list[str]:
    return [c.name for c in engine.list_containers({labels.MANAGED: "true",
                                                    labels.OWNER_PID: str(pid)})
            if c.labels.get(labels.ROLE) in ROLES]


class Install:
    """`cjm-ctl install-all --force -v` in the background, its output collected as it comes."""

    def __init__(self, project) -> None:
        env = {**os.environ, "CJM_CONFIG": str(project.root / "cjm.yaml"),
               "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
        self.proc = subprocess.Popen([*CTL, "install-all", "--force", "-v"], cwd=project.root,
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def wait_for(self, reached, timeout: float = 300) -> bool:
        """Poll until ``reached()``; False if the install ended first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if reached():
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.02)
        raise AssertionError("the phase never came:\n" + "".join(self.lines[-30:]))

    def stop(self, sig: int) -> int:
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=120)
        self.reader.join(timeout=10)
        return code


def status_in_list(project) -> str:
    out = ctl(project, "list").stdout
    line = next(line for line in out.splitlines() if PLUGIN in line)
    status = re.search(r"\b(present|stale|missing)\b", line)
    assert status is not None, out
    return status.group(1)


def check_consistent(project) -> None:
    """The manifest names an existing image by id; list and install-all agree on it."""
    manifest = json.loads((project.manifests / "cjm-example-echo.json").read_text())
    assert project.engine.image_inspect(manifest["image_id"]) is not None
    listed = status_in_list(project)
    out = ctl(project, "install-all").stdout
    if listed == "present":
        assert "0 built, 1 up to date" in out, out
    else:
        assert "1 built, 0 up to date" in out, (listed, out)
    assert status_in_list(project) == "present"


@pytest.fixture
def installed(project):
    shutil.copytree(REPO / "examples" / "plugins" / "cjm-example-echo", project.root / "echo")
    project.write_plugins(f"plugins:\n  - name: {PLUGIN}\n    python_version: '3.11'\n"
                          "    package: ./echo\n")
    ctl(project, "install-all")
    assert status_in_list(project) == "present"
    return project


def helper_running(role: str):
    """The phase in which the install's own helper container of ``role`` exists."""
    return lambda install, engine: any(
        c.labels.get(labels.ROLE) == role
        for c in engine.list_containers({labels.OWNER_PID: str(install.proc.pid)}))


PHASES = {
    # a build step: the container whose files become one layer (the plugin's code here)
    "build": helper_running(labels.ROLE_BUILD),
    # the one-off container that describes the new image
    "introspect": helper_running(labels.ROLE_INTROSPECT),
    # the final commit's never-started helper container
    "commit": helper_running(labels.ROLE_COMMIT),
}


def change_the_code(project) -> None:
    """A new version of the plugin's code, so that its code step really runs (a forced
    install reuses every step it already made)."""
    (project.root / "echo" / "cjm_example_echo" / "_edition.py").write_text(
        f"EDITION = {time.monotonic_ns()}\n")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_an_install_interrupted_at_any_phase_leaves_one_consistent_state(installed, sig):
    project, engine = installed, installed.engine
    for phase, reached in PHASES.items():
        for _attempt in range(3):  # a phase can be too short to catch on a fast run: retry
            change_the_code(project)
            install = Install(project)
            caught = install.wait_for(lambda install=install, reached=reached:
                                      reached(install, engine))
            code = install.stop(sig)
            if caught:
                break
        assert caught, f"never caught the {phase} phase"
        print(f"\n{phase}: {signal.Signals(sig).name} -> exit {code}")
        assert code != 0
        pid = install.proc.pid
        if sig == signal.SIGINT:   # Ctrl-C: the process cleans up after itself
            assert helpers_of(engine, pid) == [], phase
        else:                      # SIGKILL: gc finds what it left
            ctl(project, "gc")
            assert helpers_of(engine, pid) == [], phase
        check_consistent(project)


def test_list_and_install_all_judge_a_moved_tag_alike(installed):
    """A forced rebuild killed between moving the tag and writing its manifest leaves the tag on
    another image of the same inputs: both commands call it current, and it runs. A tag on an
    image of other inputs is stale for both, and a plain install makes it current again."""
    project, engine = installed, installed.engine
    manifest = json.loads((project.manifests / "cjm-example-echo.json").read_text())
    same = engine.commit_image(manifest["image_id"], manifest["image"],
                               labels={labels.SPEC_HASH: manifest["image_hash"]},
                               helper_labels={labels.MANAGED: "true"})
    assert same != manifest["image_id"]
    assert status_in_list(project) == "present"
    assert "0 built, 1 up to date" in ctl(project, "install-all").stdout
    from cjm_docker.host.manager import PluginManager
    mgr = PluginManager(search_paths=[project.manifests], config=project.config, engine=engine)
    mgr.discover_manifests()
    try:
        assert mgr.load_plugin("cjm-example-echo")
        assert mgr.execute_plugin("cjm-example-echo", text="hi") is not None
    finally:
        mgr.unload_all()

    other = engine.commit_image(manifest["image_id"], manifest["image"],
                                labels={labels.SPEC_HASH: "0" * 64},
                                helper_labels={labels.MANAGED: "true"})
    assert status_in_list(project) == "stale"
    check_consistent(project)   # install-all agrees (stale -> rebuilt) and list follows
    for image in (same, other):  # untagged by now
        engine.remove_image(image, force=True)
