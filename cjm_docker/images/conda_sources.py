"""Where a build gets its conda packages: channels as the build reaches them.

A channel in an env spec is a name (``conda-forge``), a URL, or a local folder (an absolute
path or ``file://`` URL; relative paths were made absolute next to the env file). The names
``docker.conda_channels`` (cjm.yaml) lists are replaced by their mirror URL or local folder. A
local channel cannot be reached from inside ``docker build``, so its folder travels in the build
context (``cjm/conda/channels/NN/``) and the build names it ``file:///opt/cjm/conda/channels/NN``;
its files are part of the content hash, so a re-indexed channel rebuilds.

Pure: no IO (``build.local_trees`` reads the folders).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from cjm_docker.spec.conda_locks import LockedPackage
from cjm_docker.spec.environment import EnvironmentSpec

CONTEXT_DIR = "cjm/conda"          # what the build context holds for the conda step
IMAGE_DIR = "/opt/cjm/conda"       # where it is inside the build
DEFAULT_CHANNELS = ("conda-forge",)
_ANACONDA = "https://conda.anaconda.org/"


def local_channel(channel: str) -> Path | None:
    """The folder of a local channel (``/srv/channel``, ``file:///srv/channel``), else None."""
    if channel.startswith("file://"):
        return Path(unquote(urlparse(channel).path))
    if channel.startswith("/"):
        return Path(channel)
    return None


@dataclass(frozen=True)
class CondaSources:
    """The channels of one build.

    Attributes:
        channels: in the spec's order, as the build names them.
        specs: the conda match specs, with ``channel::`` prefixes mapped the same way.
        locked: a lock's packages, their URLs mapped the same way.
        local: each local channel folder and its context folder (``cjm/conda/channels/NN``).
    """

    channels: tuple[str, ...]
    specs: tuple[str, ...]
    locked: tuple[LockedPackage, ...]
    local: tuple[tuple[Path, str], ...]


class _Mapper:
    """Maps channels (names, URLs, folders) to what the build reaches, numbering local ones."""

    def __init__(self, mirrors: Mapping[str, str]):
        self.mirrors = dict(mirrors)
        self.local: dict[Path, str] = {}

    def __call__(self, channel: str) -> str:
        channel = channel.rstrip("/")
        name = channel.removeprefix(_ANACONDA) if channel.startswith(_ANACONDA) else channel
        channel = self.mirrors.get(name, channel).rstrip("/")
        folder = local_channel(channel)
        if folder is None:
            return channel
        context = self.local.setdefault(folder, f"{CONTEXT_DIR}/channels/{len(self.local):02d}")
        return f"file://{IMAGE_DIR}/{context.removeprefix(CONTEXT_DIR + '/')}"


def conda_sources(env: EnvironmentSpec | None, mirrors: Mapping[str, str]) -> CondaSources:
    """The channels, specs and locked packages of ``env`` as the build reaches them."""
    mapper = _Mapper(mirrors)
    if env is not None and env.lock is not None:
        locked = tuple(p.with_channel(mapper(p.channel)) for p in env.lock.packages)
        channels = tuple(dict.fromkeys(p.channel for p in locked))
        return CondaSources(channels, (), locked, tuple(mapper.local.items()))
    channels = tuple(mapper(c) for c in (env.channels if env and env.channels else DEFAULT_CHANNELS))
    specs = []
    for spec in env.conda_dependencies if env else ():
        channel, sep, rest = spec.partition("::")
        specs.append(f"{mapper(channel)}::{rest}" if sep else spec)
    return CondaSources(channels, tuple(specs), (), tuple(mapper.local.items()))
