"""Deployment commands: `compose` (write the deployment folder), `up` and `down`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cjm_docker.cli.options import PluginsOption
from cjm_docker.cli.output import say
from cjm_docker.cli.root import app
from cjm_docker.config import GpuModeSetting, get_config
from cjm_docker.deploy import orchestrators
from cjm_docker.deploy.bundle import (
    COMPOSE_FILE,
    Bundle,
    installed_manifests,
    read_bundle,
    write_bundle,
)
from cjm_docker.deploy.compose import DEFAULT_BASE_PORT, DEFAULT_PROJECT, ComposeOptions
from cjm_docker.deploy.target import engine_settings
from cjm_docker.errors import CjmDockerError, SpecError

DEFAULT_FOLDER = Path("compose")

FolderOption = Annotated[Path, typer.Option(
    "--folder", "--out", "-o",
    help="The deployment folder (it holds docker-compose.yml, secrets/ and manifests/).")]
_YAML_SUFFIXES = (".yml", ".yaml")


def deployment_folder(folder: Path) -> Path:
    """``-o`` names a folder; a path that reads as a file (``compose.yml``) is refused with
    what to type instead, rather than becoming a folder named ``compose.yml``."""
    if folder.suffix.lower() in _YAML_SUFFIXES or folder.is_file():
        parent = folder.parent if str(folder.parent) not in ("", ".") else Path("compose")
        raise SpecError(
            f"-o/--folder takes the deployment folder, not a file: {folder} would become a "
            f"folder. The folder holds {COMPOSE_FILE} (the compose file), its GPU layer, "
            "the workers' tokens (secrets/) and the manifests attach mode reads (manifests/).",
            hint=f"Use e.g. `-o {parent}` to write {parent / COMPOSE_FILE}.")
    return folder
SwarmOption = Annotated[bool, typer.Option(
    "--swarm", help="Deploy as a Swarm stack (docker stack) instead of docker compose.")]
StackOption = Annotated[str | None, typer.Option(
    "--stack", help="Swarm stack name (default: the project name).")]


def _port_table(entries: list[str] | None) -> dict[str, int]:
    table: dict[str, int] = {}
    for entry in entries or []:
        name, sep, port = entry.partition("=")
        if not sep or not port.isdigit():
            raise SpecError(f"--port takes NAME=PORT, not {entry!r}.")
        table[name] = int(port)
    return table


def export(plugins: Path | None, folder: Path, *, only: list[str] | None = None,
           project: str = DEFAULT_PROJECT, base_port: int = DEFAULT_BASE_PORT,
           ports: list[str] | None = None, bind: str = "127.0.0.1",
           gpu_mode: str = "auto") -> Bundle:
    """Write the deployment folder for the plugins of a plugins.yaml (or ``only`` of them)."""
    from cjm_docker.spec.plugins_file import load_plugins_file

    config = get_config()
    names = only or load_plugins_file(plugins or config.plugins_config).names()
    manifests = installed_manifests(names, config.manifests_dir)
    table = _port_table(ports)   # every input checked before the engine is asked
    # the container user depends on the engine (rootless Docker), the GPU layer on its GPU mode
    engine = engine_settings(config, gpu_mode, gpus=any(
        m.runtime.resources.gpu is not None for m in manifests))
    options = ComposeOptions.from_config(config, project=project, base_port=base_port,
                                         ports=table, bind_address=bind, **engine)
    return write_bundle(manifests, folder, options)


def _report_missing_images(bundle: Bundle) -> None:
    from cjm_docker.engine import Engine
    from cjm_docker.manifest import read_manifest

    try:
        engine = Engine()
        missing = [m.image for m in (read_manifest(p.manifest_file)
                                     for p in bundle.plugins.values())
                   if not engine.image_exists(m.image)]
    except CjmDockerError:
        return  # no engine here: the file is still right for the machine that runs it
    for image in missing:
        say(f"Note: image {image} is not on this engine; build it (`cjm-ctl install-all`) or "
            "push it where the deployment runs.", style="yellow")


@app.command("compose")
def compose(
    plugins: PluginsOption = None,
    out: FolderOption = DEFAULT_FOLDER,
    only: Annotated[list[str] | None, typer.Option(
        "--only", "-p", help="Only this plugin (repeatable).")] = None,
    project: Annotated[str, typer.Option(
        "--project", help="Compose project / Swarm stack name.")] = DEFAULT_PROJECT,
    base_port: Annotated[int, typer.Option(
        "--base-port", help="Published port of the first plugin; the others follow.")] = DEFAULT_BASE_PORT,
    port: Annotated[list[str] | None, typer.Option(
        "--port", help="NAME=PORT: a plugin's published port (repeatable).")] = None,
    bind: Annotated[str, typer.Option(
        "--bind", help="Address compose publishes on (Swarm publishes on every node).")] = "127.0.0.1",
    check: Annotated[bool, typer.Option(
        "--check/--no-check", help="Validate with `docker compose config`.")] = True,
    gpu_mode: Annotated[GpuModeSetting, typer.Option(
        "--gpu-mode", help="How GPU plugins ask for GPUs in docker-compose.gpu.yml: as this "
                           "machine's engine offers them (auto), the nvidia driver (runtime) "
                           "or CDI device names (cdi).")] = GpuModeSetting.AUTO,
) -> None:
    """Write a compose file (one service per plugin), its worker tokens and manifests.

    The same file runs with `docker compose` / docker-compose and deploys unchanged with
    `docker stack deploy`; a host attaches with PluginManager.attach_deployment(FOLDER).
    """
    bundle = export(plugins, deployment_folder(out), only=only, project=project,
                    base_port=base_port, ports=port, bind=bind, gpu_mode=gpu_mode.value)
    say(f"Wrote the deployment folder {bundle.folder}:")
    say(f"  {bundle.compose_file}  (compose file, {len(bundle.plugins)} service(s))")
    if bundle.gpu:
        say(f"  {bundle.gpu_file}  (GPU layer: compose takes -f {bundle.gpu_file.name} as "
            "well; Swarm ignores it)")
    say(f"  {bundle.folder / 'secrets'}/  (one worker token per service; never commit them)")
    say(f"  {bundle.manifests_dir}/  (what PluginManager.attach_deployment reads)")
    say("Services:")
    for plugin in bundle.plugins.values():
        say(f"  {plugin.service:30} {plugin.url}")
    if check:
        try:
            orchestrators.compose_config(bundle)
            say("docker compose config: valid.")
        except CjmDockerError as exc:
            if "installed" not in str(exc):
                raise
            say(f"Not validated: {exc}", style="yellow")
    _report_missing_images(bundle)


def _bundle(plugins: Path | None, out: Path) -> Bundle:
    if plugins is not None or not (out / COMPOSE_FILE).is_file():
        return export(plugins, out)
    return read_bundle(out)


@app.command("up")
def up(
    plugins: Annotated[Path | None, typer.Option(
        "--plugins", help="Export this plugins.yaml first (default: use FOLDER as written, "
                          "exporting plugins_config only when FOLDER has no compose file).")] = None,
    out: FolderOption = DEFAULT_FOLDER,
    swarm: SwarmOption = False,
    stack: StackOption = None,
    wait: Annotated[bool, typer.Option(
        "--wait/--no-wait", help="Wait until every plugin answers ready.")] = True,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait.")] = 180.0,
) -> None:
    """Start the deployment: `docker compose up -d`, or `docker stack deploy` with --swarm."""
    bundle = _bundle(plugins, deployment_folder(out))
    name = stack or bundle.project
    if swarm:
        orchestrators.stack_deploy(bundle, name)
        say(f"Deployed stack {name} ({len(bundle.plugins)} service(s)).")
    else:
        orchestrators.compose_up(bundle)
        say(f"Started compose project {bundle.project} ({len(bundle.plugins)} service(s)).")
    if wait:
        ready = orchestrators.wait_ready(bundle, stack=name if swarm else None, timeout=timeout)
        for plugin, replicas in ready.items():
            say(f"  {plugin}: ready ({replicas} replica(s) reachable)")
    stack_arg = f", stack={name!r}" if swarm else ""
    say(f"Attach: PluginManager().attach_deployment({str(bundle.folder)!r}{stack_arg})")


@app.command("down")
def down(
    out: FolderOption = DEFAULT_FOLDER,
    swarm: SwarmOption = False,
    stack: StackOption = None,
) -> None:
    """Stop the deployment: `docker compose down -v`, or `docker stack rm` with --swarm."""
    bundle = read_bundle(deployment_folder(out))
    if swarm:
        orchestrators.stack_remove(stack or bundle.project)
        say(f"Removed stack {stack or bundle.project}.")
    else:
        orchestrators.compose_down(bundle)
        say(f"Stopped compose project {bundle.project}.")
