"""Attach mode: drive workers that docker compose or a Swarm stack started, by URL or service.

An ``Attachment`` says where one plugin's workers are and how to authenticate; the manager turns
it into an ``AttachedWorker``, the ``WorkerHandle`` a ``RemotePluginProxy`` drives instead of a
``PluginContainer``. The proxy's methods are unchanged; what differs:

- ``start`` waits until a replica answers ready (it never starts anything), ``stop`` and
  ``remove`` only close connections: the deployment owns the workers.
- Calls spread over the replicas with safe retries (``ReplicaSetClient``).
- A replica lost mid-call is explained from the engine (Swarm task state, exit code) when
  available; the plugin stays loaded, because the other replicas (or a restarted one) serve on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cjm_docker import labels, wire
from cjm_docker.deploy.bundle import Bundle, read_bundle
from cjm_docker.deploy.compose import PROJECT_LABEL, ROLE_SERVICE
from cjm_docker.deploy.endpoints import ReplicaSource, SwarmServiceSource, UrlSource
from cjm_docker.deploy.replicas import ReplicaSetClient
from cjm_docker.engine import Engine
from cjm_docker.errors import (
    CjmDockerError,
    ConfigError,
    PluginStartError,
    ProtocolError,
    WorkerCrashedError,
    WorkerUnreachable,
)
from cjm_docker.gpu_access import GpuRequest
from cjm_docker.host.attachment import Deployment, register_deployment_reader
from cjm_docker.host.channel import WorkerChannel
from cjm_docker.host.readiness import ReadinessWait
from cjm_docker.host.transport import WorkerAddress, WorkerClient
from cjm_docker.manifest import Manifest

EngineProvider = Callable[[], Engine]


@dataclass(frozen=True)
class Attachment:
    """Where one plugin's deployed workers are.

    Build one with ``Attachment.url`` or ``Attachment.swarm``, or all of a deployment's with
    ``attachments_from_bundle``.

    Attributes:
        plugin: the plugin's manifest name (or its plugins.yaml name).
        urls: worker URLs (compose: one per plugin; ``http://tasks.<service>:8000`` from inside
            a Swarm overlay network expands to every replica).
        swarm_service: a Swarm service whose tasks are found through the engine instead.
        token: the workers' token, or
        token_file: the file holding it (the deployment's ``secrets/<service>.token``).
        visible_roots: folders the workers see at the same absolute path as this host.
        ready_timeout: seconds to wait for a replica to answer ready when loading.
        refresh_interval: seconds between replica membership reads.
        quarantine: seconds a failed replica is skipped while others remain.
        cleanup_on_release: run the plugin's cleanup on every replica at unload (the service is
            shared and stays up, so this is off by default).
        compose_project: the deployment's project, to find its containers' logs.
    """

    plugin: str
    urls: tuple[str, ...] = ()
    swarm_service: str | None = None
    token: str | None = field(default=None, repr=False)
    token_file: Path | None = None
    visible_roots: tuple[Path, ...] = ()
    ready_timeout: float = 60.0
    refresh_interval: float = 5.0
    quarantine: float = 5.0
    cleanup_on_release: bool = False
    compose_project: str | None = None

    def __post_init__(self) -> None:
        if bool(self.urls) == bool(self.swarm_service):
            raise ConfigError(f"Attachment of '{self.plugin}' needs worker URLs or a Swarm "
                              "service (one of the two).")
        if (self.token is None) == (self.token_file is None):
            raise ConfigError(f"Attachment of '{self.plugin}' needs a token or a token file "
                              "(one of the two).")

    @classmethod
    def url(cls, plugin: str, *urls: str, token: str | None = None,
            token_file: str | Path | None = None, **options: Any) -> Attachment:
        """Workers at fixed URLs (docker compose; ``tasks.<service>`` names inside Swarm)."""
        return cls(plugin, urls=tuple(urls), token=token,
                   token_file=Path(token_file).expanduser() if token_file else None, **options)

    @classmethod
    def swarm(cls, plugin: str, service: str, *, token: str | None = None,
              token_file: str | Path | None = None, **options: Any) -> Attachment:
        """The replicas of a Swarm service (``<stack>_<service>``), found through the engine,
        which must be a manager of the swarm (``DOCKER_HOST`` may point at one)."""
        return cls(plugin, swarm_service=service, token=token,
                   token_file=Path(token_file).expanduser() if token_file else None, **options)

    def read_token(self) -> str:
        """The token (from the file when one is given).

        Raises:
            ConfigError: the file is missing, unreadable or empty.
        """
        if self.token is not None:
            return self.token
        assert self.token_file is not None
        try:
            token = self.token_file.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"Cannot read the token file {self.token_file} of plugin "
                              f"'{self.plugin}': {exc.strerror}.",
                              hint="Use the deployment's secrets/<service>.token (root may be "
                                   "needed to read it).") from exc
        if not token:
            raise ConfigError(f"The token file {self.token_file} of '{self.plugin}' is empty.")
        return token

    def source(self, engine: EngineProvider) -> ReplicaSource:
        """The replica source this attachment describes."""
        if self.swarm_service:
            return SwarmServiceSource(engine(), self.swarm_service)
        logs = None
        if self.compose_project:
            project, plugin = self.compose_project, self.plugin

            def logs(lines: int) -> str:
                return _deployment_logs(engine, project, plugin, lines)
        return UrlSource(self.urls, logs=logs)

    def worker(self, manifest: Manifest, engine: EngineProvider) -> AttachedWorker:
        """The ``WorkerHandle`` for ``manifest``'s plugin."""
        return AttachedWorker(manifest, self, engine)


def _deployment_logs(engine: EngineProvider, project: str, plugin: str, lines: int) -> str:
    """Logs of a deployment's containers of ``plugin``, found by the labels the file gives."""
    try:
        found = engine().list_containers({labels.MANAGED: "true", PROJECT_LABEL: project,
                                          labels.ROLE: ROLE_SERVICE, labels.PLUGIN: plugin})
        return "\n".join(engine().container_logs(c.id, tail=lines).rstrip() for c in found)
    except CjmDockerError:
        return ""


class AttachedWorker:
    """A ``WorkerHandle`` for workers this host did not start."""

    def __init__(self, manifest: Manifest, attachment: Attachment, engine: EngineProvider):
        self.manifest = manifest
        self.attachment = attachment
        self.source = attachment.source(engine)
        self.name = f"{manifest.name} at {self.source.describe()}"
        self.client: ReplicaSetClient | None = None
        self.health: dict[str, Any] = {}

    def start(self, gpus: GpuRequest | None = None) -> WorkerChannel:
        """Wait until a replica answers ready, check its protocol and our token.

        ``gpus`` is ignored: the deployment gives GPUs to its services.

        Raises:
            PluginStartError: no replica became ready in ``ready_timeout`` seconds.
            ProtocolError: the worker speaks another protocol or refuses the token.
        """
        a = self.attachment
        client = ReplicaSetClient(self.source, a.read_token(), self.manifest.name,
                                  refresh_interval=a.refresh_interval, quarantine=a.quarantine,
                                  cleanup_on_release=a.cleanup_on_release)
        try:
            self.health = self._wait_ready(client)
            try:
                client.call("GET", "/progress", timeout=5.0)  # the one check of the token
            except ProtocolError as exc:
                raise ProtocolError(f"{exc.message} Attached to {self.source.describe()}.",
                                    plugin=self.manifest.name,
                                    hint="Use the token file the deployment was made with.") \
                    from exc
        except BaseException:
            client.close()
            raise
        self.client = client
        return client

    def _wait_ready(self, client: ReplicaSetClient) -> dict[str, Any]:
        wait = ReadinessWait(timeout=self.attachment.ready_timeout, first_interval=0.05,
                             max_interval=1.0)
        last = "no replica answered"
        while True:
            client.refresh(force=True)
            try:
                health = client.health(timeout=2.0)
            except WorkerUnreachable as exc:
                health, last = {}, str(exc)
            status = health.get("status")
            if status in (wire.WorkerState.READY.value, wire.WorkerState.BUSY.value):
                if health.get("protocol") != wire.PROTOCOL_VERSION:
                    raise ProtocolError(
                        f"The worker at {self.source.describe()} speaks protocol "
                        f"{health.get('protocol')}, this host {wire.PROTOCOL_VERSION}.",
                        plugin=self.manifest.name,
                        hint="Deploy images built by this cjm-docker version.")
                return health
            if status == wire.WorkerState.FAILED.value:
                raise PluginStartError(
                    f"Plugin '{self.manifest.name}' at {self.source.describe()} could not load: "
                    f"{health.get('error') or 'see its log'}.", plugin=self.manifest.name,
                    log_tail=self.log_tail())
            if status:
                last = f"a replica is {status}"
            if wait.expired():
                raise PluginStartError(
                    f"Cannot attach to plugin '{self.manifest.name}' at "
                    f"{self.source.describe()}: not ready after {wait.timeout:.0f} s ({last}).",
                    plugin=self.manifest.name, log_tail=self.log_tail(),
                    hint="Is the deployment up? `cjm-ctl up`, then `docker-compose ps` or "
                         "`docker service ps`.")
            wait.sleep()

    def visible_roots(self) -> list[Path]:
        """Folders the deployment mounts at the same absolute path as on this host."""
        return list(self.attachment.visible_roots)

    def exchange_folder(self) -> Path | None:
        """None: a deployment shares the data dir's exchange folder between its services (the
        deployment's own choice, see docs/security.md)."""
        return None

    def crash_error(self, during: str) -> CjmDockerError | None:
        """Explain a call that broke after it was sent; None when its replica still answers."""
        failure = ReplicaSetClient.take_failure()
        if failure is None or self.client is None:
            return None
        endpoint = failure.endpoint
        explained = self.source.explain_loss(endpoint.key)
        if explained is None:
            if _answers(endpoint.url, self.client):
                return None
            # The engine may not have noticed yet: give it a moment to say how the task ended.
            deadline = time.monotonic() + (1.0 if isinstance(self.source, SwarmServiceSource)
                                           else 0.0)
            while explained is None and time.monotonic() < deadline:
                time.sleep(0.1)
                explained = self.source.explain_loss(endpoint.key)
        reason, exit_code = explained or ("it stopped answering", None)
        self.client.refresh(force=True)
        remaining = self.client.live_count()
        follow = (f"{remaining} replica(s) take the next calls." if remaining else
                  "No replica answers now; calls resume once the deployment restarts one.")
        return WorkerCrashedError(
            f"Plugin '{self.manifest.name}' lost {endpoint.label} during {during}: {reason}.",
            plugin=self.manifest.name, exit_code=exit_code,
            log_tail=self.source.log_tail(40, endpoint.key),
            hint=f"The call was not retried: the plugin may have started it. {follow}")

    def log_tail(self, lines: int = 40) -> str:
        """The workers' last lines, where the engine can tell ("" otherwise)."""
        return self.source.log_tail(lines)

    def stop(self, grace: float | None = None) -> None:
        """Let go of the workers (they keep running: the deployment owns them)."""
        self.remove()

    def remove(self) -> None:
        """Close the connections at once (idempotent)."""
        if self.client is not None:
            self.client.close()
            self.client = None


def _answers(url: str, like: ReplicaSetClient) -> bool:
    probe = WorkerClient(WorkerAddress(base_url=url), "", like.plugin, connect_timeout=1.0)
    try:
        return bool(probe.health(timeout=2.0).get("status"))
    except CjmDockerError:
        return False
    finally:
        probe.close()


def attachments_from_bundle(bundle: Bundle | Path | str, *, stack: str | None = None,
                            plugins: Sequence[str] | None = None,
                            **options: Any) -> list[Attachment]:
    """One attachment per plugin of a deployment folder written by ``cjm-ctl compose``.

    Args:
        bundle: the folder (or its compose file, or a read ``Bundle``).
        stack: the Swarm stack name it was deployed as; None: docker compose on this machine.
        plugins: only these (manifest names); default: all.
        options: further ``Attachment`` fields (``ready_timeout``, ``quarantine``, ...).
    """
    bundle = bundle if isinstance(bundle, Bundle) else read_bundle(Path(bundle))
    chosen = [p for name, p in bundle.plugins.items() if plugins is None or name in plugins]
    found = []
    for plugin in chosen:
        common: dict[str, Any] = {"token_file": plugin.token_file,
                                  "visible_roots": plugin.visible_roots, **options}
        if stack:
            found.append(Attachment.swarm(plugin.name, plugin.swarm_service(stack), **common))
        else:
            found.append(Attachment.url(plugin.name, plugin.url, compose_project=bundle.project,
                                        **common))
    return found


def read_deployment(folder: Path, *, stack: str | None = None,
                    plugins: Sequence[str] | None = None, **options: Any) -> Deployment:
    """A deployment folder as ``PluginManager.attach_deployment`` needs it (its manifests and
    one attachment per plugin); registered with the host below."""
    bundle = read_bundle(folder)
    return Deployment(bundle.manifests_dir,
                      attachments_from_bundle(bundle, stack=stack, plugins=plugins, **options))


register_deployment_reader(read_deployment)
