"""What the rest of cjm-docker knows of a container engine: plain data and one protocol.

``ContainerEngine`` is the seam: ``engine.Engine`` (the ``engine/`` package) implements it over the Docker SDK, and the
tests' ``FakeEngine`` (tests/fakes/engine.py) in memory. Nothing here imports docker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from cjm_docker.gpu_access import GpuRequest


@dataclass(frozen=True)
class BindMount:
    """A host folder or file mounted into a container."""

    source: str
    target: str
    read_only: bool = False


@dataclass(frozen=True)
class ContainerSpec:
    """Everything needed to create one container (secure defaults on)."""

    image: str
    name: str
    command: list[str]
    labels: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    mounts: tuple[BindMount, ...] = ()
    user: str | None = None
    network: str | None = None             # None: no network at all
    publish_port: int | None = None        # container port to publish on 127.0.0.1 (ephemeral)
    mem_limit_bytes: int | None = None
    nano_cpus: int | None = None
    pids_limit: int | None = 512
    gpus: GpuRequest | None = None         # GPUs, asked for as the engine offers them
    read_only_rootfs: bool = False
    tmpfs: dict[str, str] = field(default_factory=dict)
    auto_remove: bool = False
    init: bool = True                      # tini as PID 1: reaps the plugin's own children
    stop_timeout: int = 5
    log_max_size: str = "10m"              # the engine's own log of the container (json-file)
    log_max_files: int = 3


@dataclass(frozen=True)
class HelperLimits:
    """The limits of a build step's container (a plugin's install scripts run there)."""

    memory_bytes: int | None = None
    nano_cpus: int | None = None
    pids: int | None = 512
    log_max_size: str = "10m"
    log_max_files: int = 3


@dataclass(frozen=True)
class ContainerState:
    """What the engine says about a container right now."""

    id: str
    name: str
    status: str            # created, running, exited, dead, removing, ...
    running: bool
    exit_code: int | None
    oom_killed: bool
    labels: dict[str, str]
    image: str = ""
    host_port: int | None = None
    started_at: str = ""


@dataclass(frozen=True)
class ServiceTask:
    """One task (replica) of a Swarm service, as the manager reports it."""

    id: str
    slot: int | None
    node_id: str
    state: str                 # new, pending, ..., running, complete, failed, shutdown, ...
    desired_state: str         # running while Swarm wants it up
    container_id: str          # "" until the node started a container
    host_ports: dict[int, int]  # target port -> published port, for host-mode ports
    message: str               # the task's error, else its status message
    exit_code: int | None


@dataclass(frozen=True)
class BuildEvent:
    """One line of build progress."""

    kind: str          # "step", "output", "status", "warning" (always shown)
    text: str


def split_reference(ref: str) -> tuple[str, str]:
    """``repo:tag`` as (repo, tag); no tag (or a registry port, ``host:5000/x``) means latest."""
    repo, _, tag = ref.rpartition(":")
    if not repo or "/" in tag:
        return ref, "latest"
    return repo, tag


class ContainerEngine(Protocol):
    """The engine as its callers use it (every error a ``cjm_docker`` error)."""

    def version(self) -> dict[str, Any]: ...
    def info(self) -> dict[str, Any]: ...
    def image_inspect(self, ref: str) -> dict[str, Any] | None: ...
    def image_exists(self, ref: str) -> bool: ...
    def list_images(self, label: str | None = None) -> list[dict[str, Any]]: ...
    def tag_image(self, source: str, ref: str) -> None: ...
    def remove_image(self, ref: str, *, force: bool = False) -> bool: ...
    def pull(self, ref: str) -> None: ...
    def build(self, context: IO[bytes], *, tag: str | None = None,
              labels: dict[str, str] | None = None, buildargs: dict[str, str] | None = None,
              on_event: Callable[[BuildEvent], None] | None = None, nocache: bool = False,
              plugin: str | None = None, memory_bytes: int | None = None,
              on_container: Callable[[str], None] | None = None) -> str: ...
    def create_and_start(self, spec: ContainerSpec) -> str: ...
    def container_state(self, container_id: str) -> ContainerState | None: ...
    def list_containers(self, labels: dict[str, str] | None = None, *,
                        all: bool = True) -> list[ContainerState]: ...
    def stop_container(self, container_id: str, timeout: float = 5) -> None: ...
    def kill_container(self, container_id: str, signal: str = "SIGKILL") -> None: ...
    def remove_container(self, container_id: str, *, force: bool = True) -> bool: ...
    def wait_container(self, container_id: str, timeout: float | None = None) -> int | None: ...
    def container_logs(self, container_id: str, *, tail: int | str = "all") -> str: ...
    def follow_logs(self, container_id: str, *, tail: int | str = 50) -> Iterator[str]: ...
    def container_stats(self, container_id: str) -> dict[str, Any] | None: ...
