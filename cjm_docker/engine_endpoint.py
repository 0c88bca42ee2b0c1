"""Which Docker engine to talk to: ``DOCKER_HOST``, else the active ``docker context``.

The docker CLI picks its engine so: ``DOCKER_HOST`` wins; else the context named by
``DOCKER_CONTEXT``, else ``currentContext`` in ``$DOCKER_CONFIG/config.json`` (default
``~/.docker``); the ``default`` context (or none) is the local socket. A context's endpoint
lives in ``contexts/meta/<sha256 of its name>/meta.json`` and its TLS files in
``contexts/tls/<same>/docker/``. cjm-ctl follows the same order, so it builds on and runs
plugins on the engine that ``docker ps`` shows. Pure file reading: ``engine/connection.py`` makes the client.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cjm_docker.errors import ConfigError

DEFAULT_CONTEXT = "default"
LOCAL_SOCKET = "unix:///var/run/docker.sock"


@dataclass(frozen=True)
class EngineEndpoint:
    """Where the engine is, and why that one.

    Attributes:
        host: the engine's URL (``unix://...``, ``tcp://...``, ``ssh://...``).
        source: how it was chosen, for messages and `cjm-ctl doctor`.
        from_environment: the docker SDK reads it from the environment itself (``DOCKER_HOST``
            with ``DOCKER_TLS_VERIFY``/``DOCKER_CERT_PATH``, or the local socket).
        tls_dir: the context's TLS folder (``ca.pem``, ``cert.pem``, ``key.pem``), if it has one.
        tls_verify: verify the engine's certificate (a context's ``SkipTLSVerify`` turns it off).
    """

    host: str
    source: str
    from_environment: bool = False
    tls_dir: Path | None = None
    tls_verify: bool = True

    def describe(self) -> str:
        return f"{self.host} (from {self.source})"


def docker_config_dir(environ: Mapping[str, str]) -> Path:
    """``$DOCKER_CONFIG``, else ``~/.docker``."""
    configured = environ.get("DOCKER_CONFIG")
    if configured:
        return Path(configured)
    home = environ.get("HOME")
    return (Path(home) if home else Path.home()) / ".docker"


def context_id(name: str) -> str:
    """The folder name the docker CLI stores a context under."""
    return hashlib.sha256(name.encode()).hexdigest()


def resolve_endpoint(environ: Mapping[str, str] | None = None) -> EngineEndpoint:
    """The engine the docker CLI would use with this environment.

    Raises:
        ConfigError: the active context is named but its metadata is missing or unreadable.
    """
    env = os.environ if environ is None else environ
    if env.get("DOCKER_HOST"):
        return EngineEndpoint(env["DOCKER_HOST"], "DOCKER_HOST", from_environment=True)
    folder = docker_config_dir(env)
    name, origin = env.get("DOCKER_CONTEXT", ""), "DOCKER_CONTEXT"
    if not name:
        name, origin = _current_context(folder / "config.json"), f"{folder / 'config.json'}"
    if not name or name == DEFAULT_CONTEXT:
        return EngineEndpoint(LOCAL_SOCKET, "the default docker context" if name else
                              "no docker context set", from_environment=True)
    meta_file = folder / "contexts" / "meta" / context_id(name) / "meta.json"
    meta = _read_json(meta_file)
    docker_endpoint = ((meta or {}).get("Endpoints") or {}).get("docker") or {}
    host = docker_endpoint.get("Host") if isinstance(docker_endpoint, dict) else None
    if not isinstance(host, str) or not host:
        raise ConfigError(
            f"The docker context '{name}' (chosen by {origin}) has no usable engine endpoint in "
            f"{meta_file}.",
            hint="Check `docker context ls`; `docker context use default` (or unset "
                 "DOCKER_CONTEXT) goes back to the local engine.")
    tls = folder / "contexts" / "tls" / context_id(name) / "docker"
    return EngineEndpoint(host, f"docker context '{name}' ({origin})",
                          tls_dir=tls if tls.is_dir() else None,
                          tls_verify=not bool(docker_endpoint.get("SkipTLSVerify")))


def _current_context(config_file: Path) -> str:
    doc = _read_json(config_file)
    value = (doc or {}).get("currentContext")
    return value if isinstance(value, str) else ""


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"Cannot read the docker CLI's {path}: {exc}.",
                          hint="Fix or remove the file, or set DOCKER_HOST.") from exc
    return doc if isinstance(doc, dict) else None
