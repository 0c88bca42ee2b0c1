"""Helpers of the deployment integration tests: unique names, free ports, cleanup by label."""

from __future__ import annotations

import socket
import subprocess
import time
import uuid
from pathlib import Path

from cjm_docker import labels
from cjm_docker.deploy.bundle import Bundle, installed_manifests, write_bundle
from cjm_docker.deploy.compose import PROJECT_LABEL, ComposeOptions

EXAMPLES = ["echo", "fileinfo"]   # the root plugins.yaml


def unique_project() -> str:
    return f"cjmt{uuid.uuid4().hex[:8]}"


def free_port_pair() -> int:
    """A base port whose next port is free too (both on every interface, as Swarm binds)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("0.0.0.0", 0))
            base = probe.getsockname()[1]
        if base > 60000:
            continue
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("0.0.0.0", base))
                b.bind(("0.0.0.0", base + 1))
            return base
        except OSError:
            continue
    raise RuntimeError("no two free consecutive ports")


def example_bundle(config, folder: Path, project: str) -> Bundle:
    """The deployment folder of the example plugins, on free ports."""
    manifests = installed_manifests(EXAMPLES, config.manifests_dir)
    options = ComposeOptions.from_config(config, project=project, base_port=free_port_pair())
    return write_bundle(manifests, folder, options)


def docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {result.stdout}{result.stderr}")
    return result


def remove_project_leftovers(engine, project: str, *, wait: float = 60.0) -> None:
    """Remove every container of a deployment by its labels (waiting for Swarm's own removal
    first), then its networks."""
    deadline = time.monotonic() + wait
    selector = {labels.MANAGED: "true", PROJECT_LABEL: project}
    while engine.list_containers(selector) and time.monotonic() < deadline:
        time.sleep(0.5)
    for state in engine.list_containers(selector):
        engine.remove_container(state.id, force=True)
    for network in docker("network", "ls", "-q", "--filter", f"label={PROJECT_LABEL}={project}",
                          check=False).stdout.split():
        docker("network", "rm", network, check=False)
