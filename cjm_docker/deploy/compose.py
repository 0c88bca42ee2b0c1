"""Compose export as data: manifests in, a compose document (plain dicts) out, dumped as YAML.

One service per plugin, in compose file format 3.8: the newest format that docker-compose v1,
``docker compose`` and ``docker stack deploy`` all read. Every key is one that all three honour,
or that one of them knowingly ignores:

    key                          compose (v1 and v2)           docker stack deploy (Swarm)
    ports "127.0.0.1:P:8000"     published on loopback only    routing mesh on every node's P
                                                               (the address is ignored, warned)
    secrets (file)               bind-mounted file             Swarm secret, mode 0444
    deploy.resources.limits      memory / CPU limits           memory / CPU limits
    generic_resources NVIDIA-GPU ignored                       GPU scheduling (node setup needed)
    cap_drop, init, user,        applied                       applied (Engine 20.10+)
      read_only, healthcheck
    security_opt, restart        applied                       ignored, with a notice
    deploy.labels                ignored, with a warning       service labels

GPU reservations: Swarm cannot take ``deploy.resources.reservations.devices`` (stack deploy
refuses the key), and compose gives no GPU for ``generic_resources``. The main file therefore
carries the Swarm form; ``gpu_override_document`` is the compose form, a second file layered with
``-f`` for plugins that want GPUs on one machine: the nvidia driver by count, or CDI device names
where the engine offers GPUs through CDI (``cjm_docker.gpu_access``).

Strings are escaped for compose's ``$VARIABLE`` interpolation, mappings from inputs are sorted,
and the YAML is dumped without anchors, so the same inputs give the same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cjm_docker import envvars, labels
from cjm_docker._version import __version__
from cjm_docker.config import CjmConfig
from cjm_docker.errors import SpecError
from cjm_docker.gpu_access import GpuAccess, GpuMode
from cjm_docker.host.container import TCP_PORT
from cjm_docker.host.runtime_folder import container_user
from cjm_docker.manifest import Manifest

COMPOSE_VERSION = "3.8"
DEFAULT_PROJECT = "cjm"
DEFAULT_BASE_PORT = 18100
NETWORK = "cjm"
#: The extension key (ignored by every compose tool) where attach mode finds the deployment.
EXTENSION = "x-cjm"
EXTENSION_FORMAT = 1
ROLE_SERVICE = "service"
PROJECT_LABEL = f"{labels.PREFIX}.project"
GPU_KIND = "NVIDIA-GPU"
SECRETS_DIR = "secrets"
MANIFESTS_DIR = "manifests"
#: Plugins' network settings that mean "outbound access", which the project network gives.
_EGRESS_NETWORKS = frozenset({"bridge", "host", "default"})
#: Healthy means the plugin is loaded (/health answers 200 while it is still starting, too).
HEALTH_PROBE = (
    "import json, sys, urllib.request; "
    f"s = json.load(urllib.request.urlopen('http://127.0.0.1:{TCP_PORT}/health', timeout=4))"
    ".get('status'); sys.exit(0 if s in ('ready', 'busy') else 1)"
)


@dataclass(frozen=True)
class ComposeOptions:
    """How plugins become services.

    Attributes:
        project: compose project / Swarm stack name the file is meant for (labels, x-cjm).
        base_port: the first plugin's published port; the others follow in order.
        ports: explicit published ports by plugin name (manifest or plugins.yaml name).
        bind_address: where compose publishes (Swarm ignores it: see the module docstring).
        data_root: ``CJM_DATA_DIR`` in the containers; each plugin gets ``<data_root>/<name>``.
        exchange_dir: the FileBackedDTO folder, mounted at the same path as on the host.
        models_dir: the shared models folder, when there is one.
        user: ``uid:gid`` the workers run as (None: the image's user).
        start_period: seconds a worker may take to load its plugin before health counts.
        gpu_access: how the target engine takes GPUs (None: the nvidia driver, by count).
        default_memory: memory limit (bytes) of a service whose plugin sets none.
        default_nano_cpus: CPU limit of a service whose plugin sets none.
    """

    project: str = DEFAULT_PROJECT
    base_port: int = DEFAULT_BASE_PORT
    ports: Mapping[str, int] = field(default_factory=dict)
    bind_address: str = "127.0.0.1"
    data_root: Path = Path("/var/lib/cjm/data")
    exchange_dir: Path = Path("/var/lib/cjm/exchange")
    models_dir: Path | None = None
    user: str | None = None
    start_period: float = 60.0
    gpu_access: GpuAccess | None = None
    default_memory: int | None = None
    default_nano_cpus: int | None = None

    @classmethod
    def from_config(cls, config: CjmConfig, **overrides: Any) -> ComposeOptions:
        """Paths and start-up timeout from the configuration, like host-started containers."""
        uid, gid = container_user()
        values: dict[str, Any] = {
            "data_root": config.plugin_data_dir, "exchange_dir": config.exchange_dir,
            "models_dir": config.models_dir, "user": f"{uid}:{gid}",
            "start_period": config.docker.start_timeout,
            # cjm.yaml's docker.limits, as for containers the host starts itself
            "default_memory": config.docker.limits.memory_bytes,
            "default_nano_cpus": config.docker.limits.nano_cpus}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


@dataclass(frozen=True)
class ServicePlan:
    """One plugin's service: the names and port that the document, the bundle and attach share."""

    manifest: Manifest
    service: str    # compose service name (Swarm: <stack>_<service>)
    port: int       # published port
    secret: str     # secret name; the worker reads /run/secrets/<secret>

    @property
    def plugin(self) -> str:
        return self.manifest.name

    @property
    def token_file(self) -> str:
        """The token file, relative to the compose file's folder."""
        return f"{SECRETS_DIR}/{self.service}.token"

    @property
    def manifest_file(self) -> str:
        """The manifest copy, relative to the compose file's folder."""
        return f"{MANIFESTS_DIR}/{self.manifest.name}.json"

    def url(self, options: ComposeOptions) -> str:
        """Where a host on the same machine reaches the worker."""
        host = "127.0.0.1" if options.bind_address in ("0.0.0.0", "") else options.bind_address
        return f"http://{host}:{self.port}"

    def visible_roots(self, options: ComposeOptions) -> list[Path]:
        """Folders the worker sees at the same absolute path as the host."""
        roots = [options.data_root / self.manifest.name, options.exchange_dir]
        return roots + ([options.models_dir] if options.models_dir else [])


def service_name(plugin: str) -> str:
    """A compose service name for a plugin (lower case: Swarm and DNS want it so)."""
    name = re.sub(r"[^a-z0-9_-]+", "-", plugin.lower()).strip("-_")
    return name or "plugin"


def plan_services(manifests: Sequence[Manifest], options: ComposeOptions) -> list[ServicePlan]:
    """Name each plugin's service and give it a port, in the order given.

    Raises:
        SpecError: two plugins would share a service name or a port, or a port is invalid.
    """
    plans: list[ServicePlan] = []
    services: dict[str, str] = {}
    ports: dict[int, str] = {}
    for index, manifest in enumerate(manifests):
        name = service_name(manifest.name)
        if name in services:
            raise SpecError(f"Plugins '{services[name]}' and '{manifest.name}' would both be "
                            f"service '{name}' of the compose file.", plugin=manifest.name)
        port = _explicit(options.ports, manifest)
        port = port if port is not None else options.base_port + index
        if not 1 <= port <= 65535:
            raise SpecError(f"Port {port} for plugin '{manifest.name}' is not a TCP port.",
                            plugin=manifest.name, hint="Lower --base-port.")
        if port in ports:
            raise SpecError(f"Plugins '{ports[port]}' and '{manifest.name}' would both publish "
                            f"port {port}.", plugin=manifest.name,
                            hint="Give distinct ports (--port NAME=PORT) or another --base-port.")
        services[name], ports[port] = manifest.name, manifest.name
        plans.append(ServicePlan(manifest, name, port, f"{name}-token"))
    return plans


def _explicit(table: Mapping[str, int], manifest: Manifest) -> int | None:
    for key in (manifest.name, manifest.spec_name):
        if key and key in table:
            return table[key]
    return None


# -- the document ---------------------------------------------------------------------------


def compose_document(plans: Sequence[ServicePlan], options: ComposeOptions) -> dict[str, Any]:
    """The compose file, as data (escaped for interpolation; dump it with ``dump_yaml``)."""
    external = sorted({n for p in plans for n in _extra_networks(p.manifest)})
    # Attachable: a host application container may join it and reach tasks.<service>.
    networks: dict[str, Any] = {NETWORK: {"attachable": True, "labels": _labels(options.project)}}
    networks.update({name: {"external": True, "name": name} for name in external})
    document = {
        "version": COMPOSE_VERSION,
        EXTENSION: _extension(plans, options),
        "services": {p.service: _service(p, options) for p in plans},
        "networks": networks,
        "secrets": {p.secret: {"file": f"./{p.token_file}", "labels": _labels(options.project)}
                    for p in plans},
    }
    return _escape(document)


def gpu_override_document(plans: Sequence[ServicePlan],
                          access: GpuAccess | None = None) -> dict[str, Any] | None:
    """The compose-only layer giving GPU plugins their devices (None when no plugin wants one).

    The devices are asked for the way ``access`` says the engine offers them: the nvidia driver
    by count (runtime mode, and when nothing was detected), or CDI device names (``driver: cdi``,
    ``device_ids: [nvidia.com/gpu=0]``; a CDI request names devices, it cannot count them).
    """
    services = {}
    for plan in plans:
        gpu = plan.manifest.runtime.resources.gpu
        if gpu is not None:
            services[plan.service] = {"deploy": {"resources": {"reservations": {
                "devices": [_gpu_device(gpu.count, access)]}}}}
    return {"version": COMPOSE_VERSION, "services": services} if services else None


def _gpu_device(count: int, access: GpuAccess | None) -> dict[str, Any]:
    if access is None or access.mode is not GpuMode.CDI:
        return {"driver": "nvidia", "count": count, "capabilities": ["gpu"]}
    whole = [d.uuid for d in access.devices if d.mig_index is None]
    ids = whole[:count] if len(whole) >= count else [str(i) for i in range(count)]
    request = access.request(ids)
    device_ids = list(request.device_ids) if request is not None else []
    # compose wants capabilities on every device entry; the engine's CDI driver ignores them
    return {"driver": "cdi", "device_ids": device_ids, "capabilities": ["gpu"]}


def _service(plan: ServicePlan, options: ComposeOptions) -> dict[str, Any]:
    manifest, runtime = plan.manifest, plan.manifest.runtime
    command = ["python", "-m", "cjm_docker.worker", "--module", manifest.module,
               "--class", manifest.class_name, "--port", str(TCP_PORT), "--host", "0.0.0.0",
               "--token-file", f"/run/secrets/{plan.secret}"]
    service: dict[str, Any] = {"image": manifest.image, "command": command}
    if options.user:
        service["user"] = options.user
    service["environment"] = _environment(plan, options)
    service["ports"] = [f"{options.bind_address}:{plan.port}:{TCP_PORT}"]
    service["secrets"] = [plan.secret]
    service["volumes"] = _volumes(plan, options)
    service["networks"] = [NETWORK, *sorted(_extra_networks(manifest))]
    service["healthcheck"] = {
        "test": ["CMD", "python", "-c", HEALTH_PROBE], "interval": "10s", "timeout": "5s",
        "retries": 3, "start_period": f"{max(1, round(options.start_period))}s"}
    service["init"] = True  # tini reaps the plugin's children, as for host-started containers
    service["cap_drop"] = ["ALL"]
    service["security_opt"] = ["no-new-privileges:true"]
    if runtime.read_only_rootfs:
        service["read_only"] = True
    service["restart"] = "unless-stopped"
    service["stop_grace_period"] = "10s"
    service["labels"] = _labels(options.project, manifest)
    service["deploy"] = _deploy(plan, options)
    return service


def _environment(plan: ServicePlan, options: ComposeOptions) -> dict[str, str]:
    manifest = plan.manifest
    env = {**manifest.env_vars, **manifest.runtime.env,
           envvars.PLUGIN_DATA_ROOT: str(options.data_root),
           envvars.PLUGIN_DATA_DIR: str(options.data_root / manifest.name),
           "HOME": "/tmp", "PYTHONUNBUFFERED": "1"}
    if options.models_dir is not None:
        env[envvars.PLUGIN_MODELS_DIR] = str(options.models_dir)
    return {key: str(env[key]) for key in sorted(env)}


def _volumes(plan: ServicePlan, options: ComposeOptions) -> list[dict[str, Any]]:
    volumes: list[dict[str, Any]] = [
        {"type": "bind", "source": str(root), "target": str(root)}
        for root in plan.visible_roots(options)]
    for extra in plan.manifest.runtime.volumes:
        volume: dict[str, Any] = {"type": "bind", "source": extra.source, "target": extra.target}
        if extra.read_only:
            volume["read_only"] = True
        volumes.append(volume)
    if plan.manifest.runtime.read_only_rootfs:
        volumes.append({"type": "tmpfs", "target": "/tmp"})
    return volumes


def _extra_networks(manifest: Manifest) -> list[str]:
    """Networks a plugin names beyond outbound access (they must exist: declared external)."""
    network = manifest.runtime.network
    return [] if network is None or network in _EGRESS_NETWORKS else [network]


def _deploy(plan: ServicePlan, options: ComposeOptions) -> dict[str, Any]:
    resources = plan.manifest.runtime.resources
    # No replicas: compose publishes one fixed port per service; Swarm scales with
    # `docker service scale`, and attach mode finds every replica.
    deploy: dict[str, Any] = {"labels": _labels(options.project, plan.manifest)}
    limits: dict[str, str] = {}
    nano_cpus = resources.nano_cpus or options.default_nano_cpus
    memory = resources.memory_bytes or options.default_memory
    if nano_cpus:
        limits["cpus"] = f"{nano_cpus / 1e9:g}"
    if memory:
        limits["memory"] = memory_text(memory)
    reservations: dict[str, Any] = {}
    if resources.gpu is not None:
        reservations["generic_resources"] = [
            {"discrete_resource_spec": {"kind": GPU_KIND, "value": resources.gpu.count}}]
    if limits or reservations:
        deploy["resources"] = {k: v for k, v in (("limits", limits),
                                                 ("reservations", reservations)) if v}
    return deploy


def memory_text(size: int) -> str:
    """Bytes as compose writes sizes ("512M"; both tools read K/M/G as powers of 1024)."""
    for unit, factor in (("G", 1024**3), ("M", 1024**2), ("K", 1024)):
        if size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size}b"


def _labels(project: str, manifest: Manifest | None = None) -> dict[str, str]:
    out = {labels.MANAGED: "true", PROJECT_LABEL: project, labels.VERSION: __version__}
    if manifest is not None:
        out.update({labels.ROLE: ROLE_SERVICE, labels.PLUGIN: manifest.name})
    return {key: out[key] for key in sorted(out)}


def _extension(plans: Sequence[ServicePlan], options: ComposeOptions) -> dict[str, Any]:
    return {
        "format": EXTENSION_FORMAT, "project": options.project, "worker_port": TCP_PORT,
        "plugins": {p.plugin: {"service": p.service, "port": p.port, "url": p.url(options),
                               "token_file": p.token_file, "manifest": p.manifest_file,
                               "visible_roots": [str(r) for r in p.visible_roots(options)]}
                    for p in plans},
    }


def _escape(value: Any) -> Any:
    """Escape ``$`` (compose interpolates ``$VAR`` in every string, Swarm's loader too)."""
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, dict):
        return {key: _escape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_escape(item) for item in value]
    return value


def unescape(value: Any) -> Any:
    """Undo ``_escape`` (reading our own extension back)."""
    if isinstance(value, str):
        return value.replace("$$", "$")
    if isinstance(value, dict):
        return {key: unescape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unescape(item) for item in value]
    return value


# -- YAML -----------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Block style, no anchors/aliases (compose files are read by people too)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_yaml(document: Mapping[str, Any], *, header: str = "") -> str:
    """The document as YAML, keys in the order built (deterministic), under a comment header."""
    text = yaml.dump(dict(document), Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=4096)
    lines = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return lines + text
