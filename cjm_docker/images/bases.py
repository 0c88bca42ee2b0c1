"""Base images: the local aliases every Dockerfile names, and where each comes from.

Dockerfiles always say ``FROM cjm-docker/base-python:<X.Y>`` or
``FROM cjm-docker/base-micromamba:2`` (unless a plugin sets ``base_image``), so rendering
never depends on a registry. ``cjm-ctl setup-runtime`` makes the aliases present: it pulls the
configured reference and tags it, or builds the Python base from a debootstrapped Debian.
"""

from __future__ import annotations

from cjm_docker.config import DockerSettings
from cjm_docker.errors import BaseImageMissingError
from cjm_docker.spec.environment import Flavor

PYTHON_REPO = "cjm-docker/base-python"
# Tagged with micromamba's major version: a 1.x image left by an older setup-runtime is not
# taken for the 2.x the template is written for.
MICROMAMBA_ALIAS = "cjm-docker/base-micromamba:2"
ROOTFS_REPO = "cjm-docker/rootfs"

# The Debian suite whose python3 is that version (the bootstrap needs no registry).
DEBIAN_SUITES = {"3.11": "bookworm", "3.13": "trixie"}


def python_alias(python_version: str) -> str:
    """``cjm-docker/base-python:3.11`` for ``3.11`` or ``3.11.4``."""
    return f"{PYTHON_REPO}:{'.'.join(python_version.split('.')[:2])}"


def flavor_alias(flavor: Flavor, python_version: str) -> str:
    """The alias a flavor's Dockerfiles start from."""
    return MICROMAMBA_ALIAS if flavor == Flavor.MICROMAMBA else python_alias(python_version)


def rootfs_ref(suite: str) -> str:
    """The imported Debian root filesystem the Python base is built on."""
    return f"{ROOTFS_REPO}:{suite}"


def pull_reference(settings: DockerSettings, flavor: Flavor, python_version: str = "") -> str:
    """The configured upstream reference for a flavor, with the registry mirror in front."""
    template = settings.base_images.micromamba if flavor == Flavor.MICROMAMBA \
        else settings.base_images.python
    ref = template.format(python_version=".".join(python_version.split(".")[:2]))
    mirror = settings.registry_mirror.strip()
    if mirror:
        ref = f"{mirror.rstrip('/')}/{ref}"
    return ref


def debian_suite(python_version: str) -> str:
    """The Debian suite that ships Python ``X.Y``.

    Raises:
        BaseImageMissingError: no Debian release ships that version.
    """
    minor = ".".join(python_version.split(".")[:2])
    try:
        return DEBIAN_SUITES[minor]
    except KeyError:
        known = ", ".join(f"{v} ({s})" for v, s in sorted(DEBIAN_SUITES.items()))
        raise BaseImageMissingError(
            f"No Debian release ships Python {minor}, so its base cannot be bootstrapped "
            f"(possible: {known}).",
            hint=f"Pull or `docker load` an image with Python {minor} and tag it "
                 f"{python_alias(minor)}, or choose a python_version of {known}.") from None
