"""The worker runtime baked into every image: this very cjm_docker, never downloaded.

The files listed in ``RUNTIME_FILES`` are copied from the host's installed package into the
build context, and the worker's own third-party dependencies are pinned to the versions the host
has installed, so host and worker always speak the same protocol.
"""

from __future__ import annotations

import importlib.metadata
import platform
import re
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

import cjm_docker
from cjm_docker._version import __version__
from cjm_docker.config import CjmConfig
from cjm_docker.images.context import ContextFile, collect_tree
from cjm_docker.images.render import RenderSettings
from cjm_docker.spec.resolve import host_python_version

# What the worker (python -m cjm_docker.worker) and the introspection script import; a folder
# entry takes the whole folder. Missing optional entries are skipped. A unit test checks that
# everything these modules import from cjm_docker is listed.
RUNTIME_FILES = (
    "__init__.py",
    "_version.py",
    "codec/",
    "envvars.py",
    "errors.py",
    "interface.py",
    "metadata.py",
    "validation.py",
    "wire.py",
    "worker/",
    "images/__init__.py",
    "images/introspect.py",
)

# The worker's third-party imports, pinned to the host's installed versions.
WORKER_REQUIREMENTS = ("fastapi", "uvicorn", "psutil", "uvloop", "httptools")

RUNTIME_PREFIX = "cjm/runtime/cjm_docker"

# The uv that runtime images install when the host has none (the host's is preferred).
DEFAULT_UV_VERSION = "0.13.9"


def package_root() -> Path:
    """The folder of the installed cjm_docker package."""
    return Path(cjm_docker.__file__).resolve().parent


def _resource_dir(packaged: str, in_repo: str) -> Path:
    root = package_root()
    inside = root / packaged
    return inside if inside.is_dir() else root.parent / in_repo


def templates_dir() -> Path:
    """``cjm_docker/_templates`` in a wheel, else ``<repo>/templates``."""
    return _resource_dir("_templates", "templates")


def images_dir() -> Path:
    """``cjm_docker/_images`` in a wheel, else ``<repo>/images``."""
    return _resource_dir("_images", "images")


def runtime_files(root: Path | None = None) -> tuple[ContextFile, ...]:
    """The runtime files as build-context entries under ``cjm/runtime/cjm_docker/``."""
    root = root or package_root()
    out: list[ContextFile] = []
    for entry in RUNTIME_FILES:
        path = root / entry
        if entry.endswith("/"):
            if path.is_dir():
                out.extend(f.moved(f"{RUNTIME_PREFIX}/{entry}{f.path}") for f in collect_tree(path))
        elif path.is_file():
            out.append(ContextFile(f"{RUNTIME_PREFIX}/{entry}", path.read_bytes()))
    return tuple(sorted(out, key=lambda f: f.path))


def worker_requirements() -> tuple[str, ...]:
    """``name==version`` for each worker dependency installed on the host (absent ones skipped)."""
    pins = []
    for name in WORKER_REQUIREMENTS:
        try:
            pins.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return tuple(pins)


def uv_version() -> str:
    """The host's uv version (host and images then resolve alike), else the default."""
    try:
        return importlib.metadata.version("uv")
    except importlib.metadata.PackageNotFoundError:
        return DEFAULT_UV_VERSION


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def worker_constraints(python_version: str) -> tuple[str, ...]:
    """``name==version`` of everything the worker's dependencies pull in, as installed here.

    Walks the host's installed distributions from ``WORKER_REQUIREMENTS``, following each
    requirement whose marker holds on Linux under ``python_version`` (extras are not followed).
    The runtime image installs its venv under these constraints, so it holds the host's exact
    versions, and plugin locks resolve under them too.
    """
    minor = ".".join(python_version.split(".")[:2])
    environment = {"python_version": minor, "python_full_version": f"{minor}.0",
                   "sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
                   "platform_machine": platform.machine(), "implementation_name": "cpython",
                   "platform_python_implementation": "CPython", "extra": ""}
    pins: dict[str, str] = {}
    queue = list(WORKER_REQUIREMENTS)
    while queue:
        name = _normalize(queue.pop())
        if name in pins:
            continue
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        pins[name] = f"{name}=={dist.version}"
        for line in dist.requires or []:
            try:
                requirement = Requirement(line)
            except InvalidRequirement:
                continue
            if requirement.marker is None or requirement.marker.evaluate(environment):
                queue.append(requirement.name)
    return tuple(pins[name] for name in sorted(pins))


def certificate_files(config: CjmConfig) -> tuple[ContextFile, ...]:
    """The extra CA certificates as ``cjm/certs/NN-name.crt`` (update-ca-certificates wants .crt)."""
    out = []
    for i, path in enumerate(config.ca_certificate_files()):
        name = path.name if path.name.endswith(".crt") else f"{path.stem}.crt"
        out.append(ContextFile(f"cjm/certs/{i:02d}-{name}", path.read_bytes()))
    return tuple(out)


def render_settings(config: CjmConfig) -> RenderSettings:
    """Everything rendering needs from this host, read once."""
    return RenderSettings(
        cjm_version=__version__,
        worker_requirements=worker_requirements(),
        worker_constraints=worker_constraints(host_python_version()),
        uv_version=uv_version(),
        runtime_repository=config.docker.runtime_repository,
        runtime_files=runtime_files(),
        ca_certificates=certificate_files(config),
        pip_index_url=config.docker.pip_index_url,
        pip_extra_index_url=config.docker.pip_extra_index_url,
        proxies=tuple(sorted(config.proxy_settings().items())),
        templates_dir=templates_dir(),
        conda_channels=tuple(sorted(config.docker.conda_channels.items())),
        conda_installer=(images_dir() / "rattler" / "install.py").read_bytes(),
    )
