"""Running a deployment folder: docker compose on one machine, ``docker stack`` on a swarm.

Stacks and compose projects are concepts of the docker CLIs, not of the Engine API, so these
shortcuts run the CLIs (``docker compose`` v2 when present, else ``docker-compose`` v1); the
file they deploy is the same one a user would hand to them.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from cjm_docker.deploy.attach import attachments_from_bundle
from cjm_docker.deploy.bundle import Bundle
from cjm_docker.engine import Engine
from cjm_docker.errors import EngineError
from cjm_docker.manifest import read_manifest

Runner = Callable[[Sequence[str]], subprocess.CompletedProcess]
_OUTPUT_TAIL = 40


def run_tool(argv: Sequence[str]) -> subprocess.CompletedProcess:
    """Run a docker CLI, capturing its output (the default ``Runner``)."""
    return subprocess.run(list(argv), capture_output=True, text=True, check=False)


def compose_command(*, which: Callable[[str], str | None] = shutil.which,
                    runner: Runner = run_tool) -> list[str]:
    """``["docker", "compose"]`` when the v2 plugin answers, else ``["docker-compose"]``.

    Raises:
        EngineError: neither is installed.
    """
    if which("docker") and runner(["docker", "compose", "version"]).returncode == 0:
        return ["docker", "compose"]
    if which("docker-compose"):
        return ["docker-compose"]
    raise EngineError("Neither `docker compose` nor `docker-compose` is installed.",
                      hint="Install the compose plugin (docker-compose-plugin) or docker-compose.")


def _checked(argv: Sequence[str], runner: Runner, what: str) -> str:
    result = runner(argv)
    output = ((result.stdout or "") + (result.stderr or "")).strip()
    if result.returncode != 0:
        tail = "\n".join(output.splitlines()[-_OUTPUT_TAIL:])
        raise EngineError(f"{what} failed (exit {result.returncode}): `{' '.join(argv)}`\n{tail}")
    return output


def _compose_argv(bundle: Bundle, command: list[str]) -> list[str]:
    files = [arg for path in bundle.compose_files() for arg in ("-f", str(path))]
    return [*command, "-p", bundle.project, *files]


def compose_config(bundle: Bundle, *, runner: Runner = run_tool,
                   command: list[str] | None = None) -> str:
    """``docker compose config``: validate the files and return the merged result."""
    argv = _compose_argv(bundle, command or compose_command(runner=runner)) + ["config"]
    return _checked(argv, runner, "Validating the compose file")


def compose_up(bundle: Bundle, *, runner: Runner = run_tool,
               command: list[str] | None = None) -> str:
    """``docker compose up -d`` of the deployment (the GPU layer included when present)."""
    argv = _compose_argv(bundle, command or compose_command(runner=runner)) + \
        ["up", "-d", "--remove-orphans"]
    return _checked(argv, runner, "docker compose up")


def compose_down(bundle: Bundle, *, runner: Runner = run_tool,
                 command: list[str] | None = None) -> str:
    """``docker compose down -v``: containers, network and anonymous volumes go."""
    argv = _compose_argv(bundle, command or compose_command(runner=runner)) + \
        ["down", "-v", "--remove-orphans"]
    return _checked(argv, runner, "docker compose down")


def stack_deploy(bundle: Bundle, stack: str, *, runner: Runner = run_tool) -> str:
    """``docker stack deploy`` of the compose file, unchanged (the GPU layer is compose-only).

    Local images need no registry on a single node; with several nodes, push them first (the
    CLI warns that it cannot pin their digests).
    """
    argv = ["docker", "stack", "deploy", "--prune", "-c", str(bundle.compose_file), stack]
    return _checked(argv, runner, "docker stack deploy")


def stack_remove(stack: str, *, runner: Runner = run_tool) -> str:
    """``docker stack rm``: services, secrets and networks of the stack go."""
    return _checked(["docker", "stack", "rm", stack], runner, "docker stack rm")


def wait_ready(bundle: Bundle, *, stack: str | None = None, timeout: float = 120.0,
               engine: Engine | None = None) -> dict[str, int]:
    """Wait until every plugin of the deployment has a replica that answers ready.

    Returns:
        Replicas reachable from this host, by plugin.

    Raises:
        PluginStartError: a plugin was not ready in time (its log tail attached).
    """
    engines: list[Engine] = [engine] if engine else []

    def provider() -> Engine:
        if not engines:
            engines.append(Engine())
        return engines[0]

    ready: dict[str, int] = {}
    for attachment in attachments_from_bundle(bundle, stack=stack, ready_timeout=timeout):
        manifest = read_manifest(Path(bundle.plugins[attachment.plugin].manifest_file))
        worker = attachment.worker(manifest, provider)
        try:
            worker.start()
            ready[attachment.plugin] = len(worker.client.replicas()) if worker.client else 0
        finally:
            worker.remove()
    return ready
