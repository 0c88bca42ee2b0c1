"""Which kind of engine this is, and what that means for the containers cjm-docker starts.

    kind      recognised by                                   transport  host folders  container user
    local     a Unix socket (or loopback TCP) on Linux        unix       mounted       host uid (root: 10001)
    rootless  SecurityOptions has ``name=rootless``           unix       mounted       0 (= the host user)
    desktop   OperatingSystem is ``Docker Desktop``           tcp        shared        host uid
    remote    ``ssh://``, or ``tcp://`` to another machine    -          unreachable   -

- Docker Desktop runs the engine in a VM: a Unix socket in a bind-mounted folder does not cross
  into it, a port published on 127.0.0.1 is forwarded to this machine's loopback.
- Rootless Docker maps container uid 0 to the user running dockerd and every other uid to a
  subordinate uid the host user cannot clean up: containers run as 0 there (still unprivileged
  on the host: all capabilities dropped, no-new-privileges).
- A remote engine mounts *its* machine's folders: the data dir, exchange folder and runtime
  folder on this machine are not there. Starting containers on it is refused at load with an
  error that points to attach mode (deploy there with ``cjm-ctl compose``, then
  ``manager.attach_deployment``).

``recognise`` is pure (``docker info`` and the endpoint in, ``EngineProfile`` out) and tested on
recorded answers; ``profile_of`` asks a live engine once and keeps the answer on it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

from cjm_docker.config import Transport
from cjm_docker.errors import EngineError

DEFAULT_ENDPOINT = "unix:///var/run/docker.sock"
DESKTOP_OS = "Docker Desktop"
_ENDPOINT_SCHEMES = ("unix", "npipe", "tcp", "ssh", "http", "https")
ROOTLESS_OPTION = "name=rootless"
_ATTACH_HINT = ("Deploy the plugins on the engine's machine (`cjm-ctl compose` there, then "
                "`docker compose up` or `cjm-ctl up`) and attach to them with "
                "`manager.attach_deployment(folder)`: see docs/deploy.md, attach mode. Or unset "
                "DOCKER_HOST / switch the docker context to this machine's engine.")


class EngineKind(str, Enum):
    LOCAL = "local"         # dockerd on this Linux machine, as root
    ROOTLESS = "rootless"   # dockerd on this machine, in a user namespace
    DESKTOP = "desktop"     # Docker Desktop: the engine in a VM on this machine
    REMOTE = "remote"       # an engine on another machine


_TITLES = {EngineKind.LOCAL: "local Linux engine", EngineKind.ROOTLESS: "rootless Docker",
           EngineKind.DESKTOP: "Docker Desktop", EngineKind.REMOTE: "remote engine"}


@dataclass(frozen=True)
class EngineProfile:
    """An engine's kind and what follows from it."""

    kind: EngineKind
    endpoint: str
    operating_system: str = ""

    @property
    def scheme(self) -> str:
        return urlsplit(self.endpoint).scheme or "unix"

    @property
    def transport(self) -> Transport:
        """How the host reaches workers when ``docker.transport`` is ``auto``."""
        return Transport.UNIX if self.kind in (EngineKind.LOCAL, EngineKind.ROOTLESS) \
            else Transport.TCP

    @property
    def mounts_reachable(self) -> bool:
        """The engine sees this machine's folders (the data dir, the runtime folder)."""
        return self.kind is not EngineKind.REMOTE

    @property
    def host_files_are_engine_files(self) -> bool:
        """This machine's /etc/cdi and NVIDIA toolkit are the engine's own."""
        return self.kind in (EngineKind.LOCAL, EngineKind.ROOTLESS)

    def container_user(self, uid: int, gid: int, root_fallback: tuple[int, int]) -> tuple[int, int]:
        """The uid:gid plugin containers run as, for a host process running as ``uid``:``gid``.

        Rootless: 0, which the engine maps to the host user, so the host can read and remove
        what containers write. Elsewhere the host's own ids (``root_fallback`` when root).
        """
        if self.kind is EngineKind.ROOTLESS:
            return 0, 0
        return root_fallback if uid == 0 else (uid, gid)

    def describe(self, transport: Transport | None = None) -> str:
        """``local Linux engine, unix transport (unix:///var/run/docker.sock)``."""
        used = (transport or self.transport).value
        reach = "" if self.mounts_reachable else "; this machine's folders are not visible to it"
        return f"{_TITLES[self.kind]}, {used} transport ({self.endpoint}){reach}"

    def check_transport(self, configured: Transport) -> Transport:
        """The transport to use: ``auto`` resolved; a Unix socket where it cannot work refused.

        Raises:
            EngineError: ``unix`` asked for on Docker Desktop (the socket cannot cross its VM).
        """
        if configured is Transport.AUTO:
            return self.transport
        if configured is Transport.UNIX and self.kind is EngineKind.DESKTOP:
            raise EngineError(
                "docker.transport is 'unix', but this engine is Docker Desktop: a Unix socket in "
                "a mounted folder does not cross into its VM, so the host could never reach a "
                "worker.", hint="Set docker.transport to 'auto' or 'tcp' (CJM_TRANSPORT).")
        return configured

    def require_mounts(self, plugin: str, data_dir: str) -> None:
        """Refuse to start a container whose folders this engine cannot mount.

        Raises:
            EngineError: a remote engine (names it, the data dir, and attach mode).
        """
        if self.mounts_reachable:
            return
        raise EngineError(
            f"Cannot start plugin '{plugin}' on the Docker engine at {self.endpoint}: it is a "
            f"remote engine, and containers there cannot see this machine's data dir "
            f"({data_dir}), exchange folder or runtime folder, which every plugin container "
            "mounts.", plugin=plugin, hint=_ATTACH_HINT)


def _loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def recognise(info: Mapping[str, Any], endpoint: str | None = None) -> EngineProfile:
    """The profile of an engine that answered ``info`` at ``endpoint`` (``DOCKER_HOST`` form)."""
    endpoint = endpoint or DEFAULT_ENDPOINT
    parts = urlsplit(endpoint)
    system = str(info.get("OperatingSystem") or "")
    options = [str(o) for o in info.get("SecurityOptions") or ()]
    if parts.scheme == "ssh" or (parts.scheme in ("tcp", "http", "https")
                                 and not _loopback(parts.hostname)):
        kind = EngineKind.REMOTE
    elif system == DESKTOP_OS or parts.scheme == "npipe":
        kind = EngineKind.DESKTOP
    elif any(o == ROOTLESS_OPTION or o.startswith(ROOTLESS_OPTION + ",") for o in options):
        kind = EngineKind.ROOTLESS
    else:
        kind = EngineKind.LOCAL
    return EngineProfile(kind, endpoint, system)


def endpoint_of(engine: Any) -> str:
    """Where ``engine`` is reached, ``DOCKER_HOST`` style.

    ``Engine.endpoint`` when the engine knows it (the resolved docker context); else derived from
    the SDK client: its Unix socket path, ``ssh``, or its TCP base URL; else ``DOCKER_HOST``.
    """
    known = getattr(engine, "endpoint", None)
    if isinstance(known, str) and urlsplit(known).scheme in _ENDPOINT_SCHEMES:
        return known   # an SDK base URL (http+docker://...) says less: derive from the client
    api = getattr(engine, "api", None)
    base = str(getattr(api, "base_url", "") or "")
    if base.startswith(("http://", "https://")):
        return "tcp://" + base.split("://", 1)[1]
    if base == "http+docker://localnpipe":
        return "npipe:////./pipe/docker_engine"
    if base == "http+docker://ssh":
        return os.environ.get("DOCKER_HOST") or "ssh://"
    adapter = getattr(api, "_custom_adapter", None)
    socket_path = getattr(adapter, "socket_path", None)
    if isinstance(socket_path, str) and socket_path:
        return f"unix://{socket_path}"
    return os.environ.get("DOCKER_HOST") or DEFAULT_ENDPOINT


def profile_of(engine: Any) -> EngineProfile:
    """The engine's profile, asked once per engine object (one ``docker info``)."""
    profile = getattr(engine, "_cjm_profile", None)
    if profile is None:
        profile = recognise(engine.info(), endpoint_of(engine))
        with contextlib.suppress(AttributeError):   # a stand-in with __slots__: ask again
            engine._cjm_profile = profile
    return profile
