"""Reaching one Docker engine: the client, and the engine's own documents.

The low-level ``APIClient`` is used directly because the high-level models add an inspect round
trip to almost every call, and start-up latency is a feature.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cjm_docker.engine.sdk import DockerClient, TLSConfig, from_env
from cjm_docker.engine.translation import translated
from cjm_docker.engine_endpoint import EngineEndpoint, resolve_endpoint
from cjm_docker.errors import EngineUnavailableError


def _client_for(endpoint: EngineEndpoint) -> DockerClient:
    """A client for the endpoint (a context's TLS files used as the docker CLI uses them)."""
    if endpoint.from_environment:
        return from_env(timeout=120)
    tls: TLSConfig | bool = False
    if endpoint.tls_dir is not None:
        files = {name: endpoint.tls_dir / f"{name}.pem" for name in ("ca", "cert", "key")}
        present = {name: str(path) for name, path in files.items() if path.is_file()}
        tls = TLSConfig(
            client_cert=(present["cert"], present["key"]) if {"cert", "key"} <= set(present) else None,
            ca_cert=present.get("ca") if endpoint.tls_verify else None,
            verify=endpoint.tls_verify and "ca" in present)
    return DockerClient(base_url=endpoint.host, tls=tls, timeout=120)


class Connection:
    """A connection to one Docker engine (the base every group of engine calls builds on).

    Args:
        client: an existing ``DockerClient``; by default the engine the docker CLI
            would use (``DOCKER_HOST``, else the active docker context, else the local socket).
    """

    def __init__(self, client: DockerClient | None = None):
        if client is None:
            self.reached = resolve_endpoint()
            with translated(f"The Docker engine at {self.reached.describe()} does not answer",
                            error=EngineUnavailableError,
                            hint="Start it (e.g. `sudo service docker start` or `dockerd &`) "
                                 "and check DOCKER_HOST, `docker context ls` and your "
                                 "permission on /var/run/docker.sock."):
                client = _client_for(self.reached)
                client.api.ping()
        else:
            self.reached = EngineEndpoint(client.api.base_url, "a client given in code")
        self.endpoint = self.reached.host   # the engine's URL (unix://, tcp://, ssh://)
        self._client = client
        self.api = client.api

    def version(self) -> dict[str, Any]:
        """The engine's version document (``Version``, ``ApiVersion``, ...)."""
        return self._call(self.api.version)

    def info(self) -> dict[str, Any]:
        """The engine's info document (runtimes, swarm, storage driver, ...)."""
        return self._call(self.api.info)

    def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """One API call whose every refusal is an ``EngineError``."""
        with translated(f"The Docker engine refused {fn.__name__}"):
            return fn(*args, **kwargs)
