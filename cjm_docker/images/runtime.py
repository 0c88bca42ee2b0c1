"""The worker runtime baked into every image: this very cjm_docker, never downloaded.

The files listed in ``RUNTIME_FILES`` are copied from the host's installed package into the
build context, and the worker's own third-party dependencies are pinned to the versions the host
has installed, so host and worker always speak the same protocol.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import cjm_docker
from cjm_docker._version import __version__
from cjm_docker.config import CjmConfig
from cjm_docker.images.context import ContextFile, collect_tree
from cjm_docker.images.render import RenderSettings

# What the worker (python -m cjm_docker.worker) and the introspection script import; a folder
# entry takes the whole folder. Missing optional entries are skipped. A unit test checks that
# everything these modules import from cjm_docker is listed.
RUNTIME_FILES = (
    "__init__.py",
    "_version.py",
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
        runtime_files=runtime_files(),
        ca_certificates=certificate_files(config),
        pip_index_url=config.docker.pip_index_url,
        pip_extra_index_url=config.docker.pip_extra_index_url,
        proxies=tuple(sorted(config.proxy_settings().items())),
        templates_dir=templates_dir(),
        conda_channels=tuple(sorted(config.docker.conda_channels.items())),
        conda_installer=(images_dir() / "rattler" / "install.py").read_bytes(),
    )
