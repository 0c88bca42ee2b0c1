"""Where a deployed plugin's replicas are: fixed URLs, ``tasks.`` DNS names, or a Swarm service.

A ``ReplicaSource`` answers "which workers serve this plugin now?" with one ``Endpoint`` per
replica; the replica set asks again now and then, and at once when a replica fails.

Reaching Swarm replicas from a host outside the overlay network (measured on Engine 20.10):

- The routing mesh balances a published port per *connection*: a pooled client keeps talking to
  one replica, and there is no way to aim a retry at *another* one. On kernels without IPVS it
  does not work at all (connection refused), while host-mode ports and bridges still do.
- ``tasks.<service>`` resolves to every replica, but only inside the overlay network (a host
  application running as a service of the stack uses it through ``UrlSource``).
- So ``SwarmServiceSource`` asks the manager for the service's running tasks and reaches each one
  directly: at ``<node address>:<port>`` when the service publishes the worker port in host mode
  (``docker service update --publish-add mode=host,target=8000``: works from any machine), else,
  for tasks on this node, at the task's address on ``docker_gwbridge``, the bridge every Swarm
  container has for egress: reachable from this host only, nothing published.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

from cjm_docker.engine import Engine, ServiceTask
from cjm_docker.errors import CjmDockerError, ConfigError
from cjm_docker.host.container import TCP_PORT

#: Connect timeouts: a peer on a local bridge answers a SYN in microseconds, so a dead one is
#: known quickly; a remote node's address may be slower to connect for good reasons.
LOCAL_CONNECT_TIMEOUT = 1.0
REMOTE_CONNECT_TIMEOUT = 3.0
GATEWAY_NETWORK = "docker_gwbridge"


@dataclass(frozen=True)
class Endpoint:
    """One replica's address.

    Attributes:
        key: stable identity while the replica lives (task id, or the URL).
        url: ``http://host:port``.
        label: for messages, e.g. ``task cjm_echo.2 (3f2a9c1b) at http://172.18.0.4:8000``.
        connect_timeout: seconds to open a connection before the replica counts as gone.
    """

    key: str
    url: str
    label: str
    connect_timeout: float = REMOTE_CONNECT_TIMEOUT


class ReplicaSource(Protocol):
    """Finds a plugin's replicas."""

    def describe(self) -> str:
        """What is being attached to, for messages."""

    def endpoints(self) -> list[Endpoint]:
        """The replicas now (may be empty while a deployment starts)."""

    def explain_loss(self, key: str) -> tuple[str, int | None] | None:
        """Why replica ``key`` is gone and its exit code; None when that cannot be told."""

    def log_tail(self, lines: int, key: str | None = None) -> str:
        """The last lines of a replica's log ("" when this source cannot read logs)."""


Resolver = Callable[[str, int], list[str]]


def resolve_all(host: str, port: int) -> list[str]:
    """Every IPv4/IPv6 address of ``host`` (sorted, de-duplicated)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


class UrlSource:
    """Fixed URLs, one replica each; a ``tasks.<service>`` host name is one replica per address.

    Args:
        urls: ``http://host:port`` of each worker.
        resolver: name resolution (injectable for tests).
        logs: reads the workers' last log lines, when the caller knows how (compose).
    """

    def __init__(self, urls: Sequence[str], *, resolver: Resolver = resolve_all,
                 logs: Callable[[int], str] | None = None):
        if not urls:
            raise ConfigError("Attach needs at least one worker URL.")
        for url in urls:
            parts = urlsplit(url)
            if parts.scheme != "http" or not parts.hostname:
                raise ConfigError(f"{url!r} is not a worker URL such as http://127.0.0.1:18100.")
        self.urls = list(urls)
        self._resolver = resolver
        self._logs = logs

    def describe(self) -> str:
        return ", ".join(self.urls)

    def endpoints(self) -> list[Endpoint]:
        found: list[Endpoint] = []
        for url in self.urls:
            parts = urlsplit(url)
            host = parts.hostname or ""
            local = host in ("127.0.0.1", "localhost", "::1")
            timeout = LOCAL_CONNECT_TIMEOUT if local else REMOTE_CONNECT_TIMEOUT
            if not host.startswith("tasks."):
                found.append(Endpoint(url, url.rstrip("/"), url, timeout))
                continue
            port = parts.port or 80
            try:
                addresses = self._resolver(host, port)
            except OSError:
                addresses = []  # no replica right now: the caller retries later
            for address in addresses:
                shown = f"[{address}]" if ":" in address else address
                replica = urlunsplit(("http", f"{shown}:{port}", "", "", "")).rstrip("/")
                found.append(Endpoint(f"{host}/{address}", replica, f"{host} at {replica}",
                                      timeout))
        return found

    def explain_loss(self, key: str) -> tuple[str, int | None] | None:
        return None

    def log_tail(self, lines: int, key: str | None = None) -> str:
        return self._logs(lines) if self._logs else ""


class SwarmServiceSource:
    """The running tasks of a Swarm service, each reached directly (see the module docstring).

    Args:
        engine: an engine that is a manager of the swarm.
        service: the service name (``<stack>_<service>``) or id.
        worker_port: the port the worker listens on inside its container.
    """

    def __init__(self, engine: Engine, service: str, *, worker_port: int = TCP_PORT):
        self.engine = engine
        self.service = service
        self.worker_port = worker_port
        self.unreachable: list[str] = []   # running tasks no address of which this host reaches
        self._tasks: dict[str, ServiceTask] = {}
        self._nodes: dict[str, str | None] = {}
        self._local_node: str | None = None

    def describe(self) -> str:
        return f"Swarm service {self.service}"

    def endpoints(self) -> list[Endpoint]:
        tasks = self.engine.service_tasks(self.service)
        self._tasks.update({t.id: t for t in tasks})
        running = sorted((t for t in tasks if t.state == "running"
                          and t.desired_state == "running"), key=lambda t: (t.slot or 0, t.id))
        if running and self._local_node is None:
            self._local_node = self.engine.local_node_id() or ""
        local_node = self._local_node
        bridge = self.engine.network_addresses(GATEWAY_NETWORK) if running else {}
        found: list[Endpoint] = []
        self.unreachable = []
        for task in running:
            name = f"task {self.service}.{task.slot or '?'} ({task.id[:8]})"
            published = task.host_ports.get(self.worker_port)
            address = self._node_address(task.node_id) if published else None
            if published and address:
                url = f"http://{address}:{published}"
                found.append(Endpoint(task.id, url, f"{name} at {url}", REMOTE_CONNECT_TIMEOUT))
            elif task.node_id == local_node and bridge.get(task.container_id):
                url = f"http://{bridge[task.container_id]}:{self.worker_port}"
                found.append(Endpoint(task.id, url, f"{name} at {url}", LOCAL_CONNECT_TIMEOUT))
            else:
                self.unreachable.append(name)
        return found

    def _node_address(self, node_id: str) -> str | None:
        if node_id not in self._nodes:
            self._nodes[node_id] = self.engine.node_address(node_id)
        return self._nodes[node_id]

    def explain_loss(self, key: str) -> tuple[str, int | None] | None:
        try:
            tasks = {t.id: t for t in self.engine.service_tasks(self.service)}
        except CjmDockerError:
            tasks = {}
        task = tasks.get(key) or self._tasks.get(key)
        if task is None:
            return ("its task is gone", None)
        if task.state == "running" and task.desired_state == "running":
            return None
        detail = f": {task.message}" if task.message else ""
        return (f"its task is {task.state}{detail}", task.exit_code)

    def log_tail(self, lines: int, key: str | None = None) -> str:
        task = self._tasks.get(key) if key else None
        candidates = [task] if task else sorted(self._tasks.values(), key=lambda t: t.id)
        for candidate in candidates:
            if candidate.container_id:
                try:
                    return self.engine.container_logs(candidate.container_id, tail=lines).rstrip()
                except CjmDockerError:
                    continue
        return ""
