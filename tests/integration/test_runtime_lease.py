"""A host that dies leaves nothing behind: leases, and `cjm-ctl gc` by label."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from cjm_docker import labels
from cjm_docker.engine import ContainerSpec
from cjm_docker.owner import current_owner

pytestmark = pytest.mark.integration

LEASE_S = 4.0

HOST_SCRIPT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from cjm_docker.config import load_config
    from cjm_docker.host.manager import PluginManager
    cfg = load_config(data_dir=Path(sys.argv[1]))
    mgr = PluginManager(search_paths=[cfg.manifests_dir], config=cfg)
    mgr.load_plugin("cjm-test-workbench")
    print(mgr.get_plugin("cjm-test-workbench").container.id, flush=True)
    time.sleep(600)
""")


def test_sigkilled_host_leaves_no_container_after_the_lease(test_plugins, data_dir, engine):
    env = {**os.environ, "CJM_LEASE_TIMEOUT": str(LEASE_S)}
    host = subprocess.Popen([sys.executable, "-c", HOST_SCRIPT, str(data_dir)], env=env,
                            stdout=subprocess.PIPE, text=True)
    try:
        container_id = host.stdout.readline().strip()
        assert engine.container_state(container_id).running
        host.send_signal(signal.SIGKILL)
        host.wait()
        killed = time.monotonic()
        while engine.container_state(container_id) is not None:
            assert time.monotonic() - killed < LEASE_S + 10, "the worker outlived its lease"
            time.sleep(0.2)
        gone_after = time.monotonic() - killed
        print(f"container gone {gone_after:.1f} s after SIGKILL of its host (lease {LEASE_S} s)")
        assert gone_after <= LEASE_S + 5   # lease + the plugin's cleanup grace + removal
    finally:
        host.kill()


def test_gc_removes_dead_hosts_containers_and_never_a_live_hosts(engine, data_dir):
    from cjm_docker.host.reaper import reap

    image = "cjm-docker/base-python:3.11"
    me = current_owner()
    dead = {labels.OWNER_HOST: me.host, labels.OWNER_PID: "999999", labels.OWNER_STARTED: "1.00"}
    common = {labels.MANAGED: "true", labels.ROLE: "plugin", labels.PLUGIN: "gc-probe"}
    ids = {}
    for kind, owner in (("dead", dead), ("live", me.labels())):
        ids[kind] = engine.create_and_start(ContainerSpec(
            image=image, name=f"cjm-gc-probe-{kind}-{os.getpid()}", command=["sleep", "300"],
            labels={**common, **owner}))
    try:
        removed = reap(engine)
        removed_ids = {o.container.id for o in removed}
        assert ids["dead"] in removed_ids
        assert ids["live"] not in removed_ids
        assert engine.container_state(ids["dead"]) is None
        assert engine.container_state(ids["live"]).running
    finally:
        for container_id in ids.values():
            engine.remove_container(container_id, force=True)
