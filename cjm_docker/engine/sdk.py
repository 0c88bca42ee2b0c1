"""The one module that imports the Docker SDK (and requests, its HTTP stack).

The rest of the ``engine`` package takes what it needs from here, so the boundary is one file:
a lint rule (ruff banned-api) refuses these imports anywhere else.
"""

from __future__ import annotations

import docker.errors as docker_errors
import requests.exceptions as requests_exceptions
from docker import DockerClient, from_env
from docker.tls import TLSConfig
from docker.types import DeviceRequest, LogConfig, Mount

__all__ = ["DeviceRequest", "DockerClient", "LogConfig", "Mount", "TLSConfig", "docker_errors",
           "from_env", "requests_exceptions"]
