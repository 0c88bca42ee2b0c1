"""One plugin's container: started with secure defaults, waited on until ready, stopped, diagnosed."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from cjm_docker import envvars, labels, wire
from cjm_docker._version import __version__
from cjm_docker.config import CjmConfig, Transport
from cjm_docker.engine import BindMount, ContainerSpec, ContainerState, Engine
from cjm_docker.engine_kind import profile_of
from cjm_docker.errors import (
    CjmDockerError,
    PluginStartError,
    ProtocolError,
    WorkerCrashedError,
    WorkerTimeoutError,
    WorkerUnreachable,
)
from cjm_docker.gpu_access import GpuRequest
from cjm_docker.host.exits import exit_recorder
from cjm_docker.host.lease import lease_keeper
from cjm_docker.host.readiness import ReadinessWait
from cjm_docker.host.runtime_folder import (
    RuntimeFolder,
    container_user,
    give_to_container,
    read_untrusted,
    untrusted_size,
)
from cjm_docker.host.transport import WorkerAddress, WorkerClient
from cjm_docker.manifest import EditableSource, Manifest
from cjm_docker.name_rule import path_for
from cjm_docker.owner import Owner

TCP_PORT = 8000
# Where a development plugin's package folder is mounted; first on PYTHONPATH, so importing the
# plugin finds the host's files before the copy installed in the image.
EDITABLE_ROOT = "/opt/cjm/editable"
#: The longest Unix socket path the kernel accepts (sun_path is 108 bytes with its NUL).
MAX_SOCKET_PATH = 107
#: How much of the plugin's name goes into its container's (and runtime folder's) name: the
#: socket path must stay short whatever the name; the io.cjm.plugin label keeps it whole.
NAME_IN_CONTAINER = 32


def _docker_name(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]", "-", text).strip("-.") or "plugin"


@dataclass(frozen=True)
class PluginMounts:
    """The host folders a plugin container sees, each at the same absolute path inside."""

    data_root: Path       # CJM_DATA_DIR: parent of the plugin's own folder (not mounted)
    plugin_data: Path     # CJM_PLUGIN_DATA_DIR: persistent, this plugin only
    exchange: Path        # FileBackedDTO files in transit to this container only (read-only)
    models: Path | None   # CJM_MODELS_DIR, shared

    @classmethod
    def for_plugin(cls, config: CjmConfig, plugin: str, container: str) -> PluginMounts:
        """The folders of plugin ``plugin`` running as container ``container``; both names
        pass the name rule and their folders stay in their roots."""
        mounts = cls(config.plugin_data_dir, path_for(config.plugin_data_dir, plugin),
                     path_for(config.exchange_dir, container), config.models_dir)
        for folder in (mounts.plugin_data, mounts.models):
            if folder is not None and not folder.exists():
                folder.mkdir(parents=True, exist_ok=True)
                give_to_container(folder)
        return mounts

    def create_exchange(self) -> None:
        """This container's exchange folder: the host's, readable (never writable) by the
        container's user, which sees it through a read-only mount."""
        self.exchange.parent.mkdir(parents=True, exist_ok=True)
        self.exchange.mkdir(mode=0o700)
        if os.getuid() == 0:   # the container runs as another user: let its group read
            os.chown(self.exchange, 0, container_user()[1], follow_symlinks=False)
            os.chmod(self.exchange, 0o750)

    def visible_roots(self) -> list[Path]:
        """Folders whose files the container can open by the same path."""
        return [p for p in (self.plugin_data, self.exchange, self.models) if p is not None]


class PluginContainer:
    """Starts and owns one container running the worker for ``manifest``."""

    def __init__(self, manifest: Manifest, *, config: CjmConfig, engine: Engine, owner: Owner,
                 session: str):
        self.manifest = manifest
        self.config = config
        self.engine = engine
        self.owner = owner
        self.session = session
        self.id: str | None = None
        # The name also names the runtime folder: kept short so the socket path stays valid.
        self.name = _docker_name(
            f"cjm-{manifest.name[:NAME_IN_CONTAINER]}-{session}-{uuid.uuid4().hex[:4]}")
        self.mounts = PluginMounts.for_plugin(config, manifest.name, self.name)
        self.folder: RuntimeFolder | None = None
        self.client: WorkerClient | None = None
        self.health: dict = {}
        #: How the host reaches the worker: docker.transport, ``auto`` resolved for the engine.
        self.transport = Transport.UNIX

    # -- start ------------------------------------------------------------------------------

    def start(self, gpus: GpuRequest | None = None) -> WorkerClient:
        """Start the container and wait until its worker is ready.

        Raises:
            PluginStartError: the worker exited or did not get ready (log tail attached);
                nothing is left behind.
            EngineError: the engine cannot run it from here (a remote engine: see attach mode).
        """
        profile = profile_of(self.engine)
        profile.require_mounts(self.manifest.name, str(self.config.data_dir))
        self.transport = profile.check_transport(self.config.docker.transport)
        self._check_socket_path()  # before anything is made
        self.exits = exit_recorder(self.engine, self.owner.pid)  # subscribed before the start
        folder, token = RuntimeFolder.create(self.config.resolved_runtime_dir, self.name)
        self.folder = folder
        try:
            self.mounts.create_exchange()
            self.id = self.engine.create_and_start(self._spec(folder, gpus))
            lease_keeper(self.config.docker.lease_timeout).add(folder.path, self.id)
            self.client = WorkerClient(self._address(), token, self.manifest.name,
                                       max_answer_bytes=self.config.docker.max_answer_bytes)
            self.health = self._wait_ready(self.client)
            return self.client
        except BaseException:
            self.remove()
            raise

    def _check_socket_path(self) -> None:
        if self.transport is Transport.TCP:   # as the engine kind resolved it (auto)
            return
        path = RuntimeFolder(self.config.resolved_runtime_dir / self.name).socket
        size = len(os.fsencode(path))
        if size > MAX_SOCKET_PATH:
            raise PluginStartError(
                f"Plugin '{self.manifest.name}' cannot start: its socket path {path} is {size} "
                f"bytes, over the kernel's limit of {MAX_SOCKET_PATH}; nothing was started.",
                plugin=self.manifest.name,
                hint="Set a shorter runtime_dir in cjm.yaml (or CJM_RUNTIME_DIR), or "
                     "docker.transport: tcp.")

    def _spec(self, folder: RuntimeFolder, gpus: GpuRequest | None) -> ContainerSpec:
        m, settings = self.manifest, self.manifest.runtime
        tcp = self.transport is Transport.TCP
        command = ["python", "-m", "cjm_docker.worker", "--module", m.module, "--class",
                   m.class_name, "--token-file", str(folder.token_file),
                   "--lease-file", str(folder.lease_file),
                   "--lease-timeout", str(self.config.docker.lease_timeout),
                   "--log-file", str(folder.log_file)]
        command += ["--port", str(TCP_PORT), "--host", "0.0.0.0"] if tcp else \
            ["--socket", str(folder.socket)]
        env = {**m.env_vars, **settings.env,
               envvars.PLUGIN_DATA_ROOT: str(self.mounts.data_root),
               envvars.PLUGIN_DATA_DIR: str(self.mounts.plugin_data),
               "HOME": "/tmp", "PYTHONUNBUFFERED": "1"}
        if self.mounts.models is not None:
            env[envvars.PLUGIN_MODELS_DIR] = str(self.mounts.models)
        # Writable: run/ (socket, log) and the plugin's data; read-only: token, lease, and the
        # files in transit to it. The runtime folder itself and the exchange root are not seen.
        binds = [BindMount(str(folder.run), str(folder.run)),
                 *(BindMount(str(p), str(p), read_only=True) for p in folder.read_only_files()),
                 BindMount(str(self.mounts.plugin_data), str(self.mounts.plugin_data)),
                 BindMount(str(self.mounts.exchange), str(self.mounts.exchange), read_only=True)]
        if self.mounts.models is not None:
            binds.append(BindMount(str(self.mounts.models), str(self.mounts.models)))
        binds += [BindMount(v.source, v.target, v.read_only) for v in settings.volumes]
        if settings.editable is not None:
            binds.append(self._editable_mount(settings.editable))
            env["PYTHONPATH"] = ":".join(filter(None, (EDITABLE_ROOT, env.get("PYTHONPATH"))))
        uid, gid = profile_of(self.engine).container_user(os.getuid(), os.getgid(),
                                                          container_user())
        limits, wanted = self.config.docker.limits, settings.resources
        return ContainerSpec(
            image=m.image, name=self.name, command=command, env=env,
            labels={labels.MANAGED: "true", labels.ROLE: "plugin", labels.PLUGIN: m.name,
                    labels.SPEC_NAME: m.spec_name, labels.VERSION: __version__, labels.SESSION: self.session,
                    labels.RUNTIME_DIR: str(folder.path), **self.owner.labels()},
            mounts=tuple(binds), user=f"{uid}:{gid}",
            network=settings.network or ("bridge" if tcp else None),
            publish_port=TCP_PORT if tcp else None,
            mem_limit_bytes=wanted.memory_bytes or limits.memory_bytes,
            nano_cpus=wanted.nano_cpus or limits.nano_cpus, pids_limit=wanted.pids or limits.pids,
            log_max_size=limits.log_max_size, log_max_files=limits.log_max_files,
            gpus=gpus, read_only_rootfs=settings.read_only_rootfs,
            tmpfs={"/tmp": "rw,nosuid,size=256m"} if settings.read_only_rootfs else {},
            stop_timeout=int(self.config.docker.stop_timeout),
            auto_remove=True,  # a worker whose host died (lease expired) leaves nothing behind
        )

    def _editable_mount(self, editable: EditableSource) -> BindMount:
        """Read-only, of the real folder plugins.yaml named (a trusted file): a link swapped in
        since install-all is resolved here, and a folder that went away is a start error."""
        source = Path(editable.source).resolve()
        if not source.is_dir():
            raise self._start_failure(
                f"Its editable package folder {editable.source} does not exist.",
                hint="Fix 'package' in plugins.yaml and run `cjm-ctl install-all`, or remove "
                     "'editable'.")
        return BindMount(str(source), f"{EDITABLE_ROOT}/{editable.module}", read_only=True)

    def _address(self) -> WorkerAddress:
        assert self.folder is not None and self.id is not None
        if self.transport is Transport.TCP:
            state = self.engine.container_state(self.id)
            if state is None or state.host_port is None:
                raise self._start_failure("Its container vanished before publishing a port.")
            return WorkerAddress(base_url=f"http://127.0.0.1:{state.host_port}")
        return WorkerAddress(socket_path=str(self.folder.socket))

    def _wait_ready(self, client: WorkerClient) -> dict:
        assert self.folder is not None
        socket_path = self.folder.socket
        tcp = self.transport is Transport.TCP
        wait = ReadinessWait(timeout=self.config.docker.start_timeout)
        while True:
            if tcp or socket_path.exists():
                try:
                    health = client.health(timeout=2.0)
                except (WorkerUnreachable, WorkerTimeoutError):
                    health = {}  # not listening yet, or slow on a loaded machine: ask again
                status = health.get("status")
                if status == wire.WorkerState.READY.value or status == wire.WorkerState.BUSY.value:
                    if health.get("protocol") != wire.PROTOCOL_VERSION:
                        raise ProtocolError(
                            f"The worker speaks protocol {health.get('protocol')}, this host "
                            f"{wire.PROTOCOL_VERSION}.", plugin=self.manifest.name,
                            hint="Rebuild the image with `cjm-ctl install-all --force -p "
                                 f"{self.manifest.spec_name or self.manifest.name}`.")
                    return health
                if status == wire.WorkerState.FAILED.value:
                    raise self._start_failure(f"Its worker could not load the plugin: "
                                              f"{health.get('error') or 'see the log'}.")
            self._raise_if_exited()
            if wait.expired():
                raise self._start_failure(
                    f"Its worker was not ready after {wait.timeout:.0f} s.",
                    hint="Raise docker.start_timeout in cjm.yaml if the plugin is slow to import.")
            wait.sleep()

    def _raise_if_exited(self) -> None:
        # The engine's die event, recorded in the background: no API call per poll.
        ended = self.exits.exit_of(self.id) if self.id else None
        if ended is not None:
            oom = " (killed by the out-of-memory killer: raise resources.memory)" \
                if ended.oom_killed else ""
            raise self._start_failure(
                f"Its worker exited with code {ended.exit_code} during start-up{oom}.",
                exit_code=ended.exit_code)

    def _start_failure(self, reason: str, *, exit_code: int | None = None,
                       hint: str | None = None) -> PluginStartError:
        return PluginStartError(f"Plugin '{self.manifest.name}' did not start: {reason}",
                                plugin=self.manifest.name, log_tail=self.log_tail(),
                                exit_code=exit_code, hint=hint)

    # -- while running ----------------------------------------------------------------------

    def visible_roots(self) -> list[Path]:
        """Folders whose files the container can open by the same absolute path."""
        return self.mounts.visible_roots()

    def exchange_folder(self) -> Path:
        """This container's own exchange folder (read-only inside)."""
        return self.mounts.exchange

    def state(self) -> ContainerState | None:
        """The engine's view of the container (None once it is gone)."""
        return self.engine.container_state(self.id) if self.id else None

    def log_tail(self, lines: int = 40) -> str:
        """The worker's last lines: its own log file, else the engine's log."""
        text = self.folder.log_tail(lines) if self.folder else ""
        if not text and self.id:
            try:
                text = self.engine.container_logs(self.id, tail=lines).rstrip()
            except CjmDockerError:
                text = ""
        return text

    def log_position(self) -> int:
        """The current end of the worker's log file (to slice one call's lines later)."""
        return untrusted_size(self.folder.log_file) if self.folder else 0

    def read_log_since(self, position: int, end: int | None = None) -> str:
        """What the worker logged between two ``log_position()`` marks (one call's lines, at
        most ``LOG_READ_LIMIT`` bytes); the log is the container's file, read without
        following links."""
        if self.folder is None:
            return ""
        return read_untrusted(self.folder.log_file, position, end).decode("utf-8", "replace")

    def crash_error(self, during: str, settle: float = 2.0) -> CjmDockerError | None:
        """If the container died, the error that says how; None when it still runs.

        A broken connection usually means the worker is exiting: its die event may take a few
        milliseconds, so it is awaited for up to ``settle`` seconds before the failure is taken
        as a transient one.
        """
        if self.id is None:
            return None
        ended = self.exits.exit_of(self.id, wait=settle)
        stopped = self.folder.stop_reason() if self.folder else None
        if stopped is not None:
            reason = f"cjm-docker stopped it: {stopped}"
        elif ended is None:
            if self.state() is not None:
                return None
            reason = "its container was removed from outside"
        elif ended.exit_code == wire.EXIT_LEASE_EXPIRED:
            reason = (f"its host lease expired (not renewed for "
                      f"{self.config.docker.lease_timeout:g} s; was the lease renewer process "
                      "stopped or the machine asleep?), so its worker shut down")
        elif ended.oom_killed:
            reason = "the kernel's out-of-memory killer stopped it (raise resources.memory)"
        elif ended.exit_code == 137:
            reason = "it was killed (SIGKILL) from outside"
        else:
            reason = f"its worker exited with code {ended.exit_code}"
        return WorkerCrashedError(
            f"Plugin '{self.manifest.name}' crashed during {during}: {reason}.",
            plugin=self.manifest.name, exit_code=ended.exit_code if ended else None,
            oom_killed=bool(ended and ended.oom_killed), log_tail=self.log_tail(),
            hint="The next call starts a fresh container.")

    # -- stop -------------------------------------------------------------------------------

    def stop(self, grace: float | None = None) -> None:
        """Stop (SIGTERM: the worker runs the plugin's cleanup) and remove the container."""
        if self.id:
            self.engine.stop_container(self.id, timeout=self.config.docker.stop_timeout
                                       if grace is None else grace)
        self.remove()

    def remove(self) -> None:
        """Remove the container, its client and runtime folder at once (idempotent)."""
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.folder is not None:
            lease_keeper(self.config.docker.lease_timeout).discard(self.folder.path)
        if self.id:
            self.engine.remove_container(self.id, force=True)
            self.exits.forget(self.id)
            self.id = None
        if self.folder is not None:
            self.folder.remove()
        # The exchange folder is the host's and read-only inside: rmtree works on descriptors.
        shutil.rmtree(self.mounts.exchange, ignore_errors=True)
