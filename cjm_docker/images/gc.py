"""`cjm-ctl gc --images`: remove the images that no manifest needs any more.

Every rebuild leaves the previous tag behind (a content hash: another data dir on the same
engine may still name it), and a new cjm_docker leaves the previous runtime image behind. This
removes, within this configuration's namespaces only (``docker.image_prefix``,
``docker.runtime_repository`` and ``docker.stack_repository``):

    tags      that no manifest of any known data dir names, as its image or as an image it
              builds on (``shared_images``: its runtime and stack)
    dangling  untagged cjm images whose ``io.cjm.namespace`` is one of those (a build that
              failed after a layer step, a runtime rebuilt without the cache)

Known data dirs: this configuration's, those given on the command line, and every data dir an
install on this machine recorded (``known_data_dirs``; ``state.py`` keeps that record). Images
younger than the grace period are left alone (a build under way has not written its manifest
yet), and an image a container uses is reported, never forced.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cjm_docker import labels
from cjm_docker.config import CjmConfig
from cjm_docker.engine import Engine
from cjm_docker.errors import EngineError
from cjm_docker.images.inventory import read_manifests
from cjm_docker.images.state import recorded_data_dirs

DEFAULT_GRACE_S = 600.0


def known_data_dirs(config: CjmConfig, extra: Iterable[Path] = ()) -> list[Path]:
    """This configuration's data dir, the given ones, and every recorded one that still holds
    a manifest (``state.recorded_data_dirs``: the record is pruned to those)."""
    out = {config.data_dir.resolve(), *(Path(p).resolve() for p in extra)}
    out.update(recorded_data_dirs())
    return sorted(out)


def referenced_images(data_dirs: Iterable[Path]) -> set[str]:
    """Every tag a manifest in these data dirs names (its image and the images it builds on)."""
    refs: set[str] = set()
    for data_dir in data_dirs:
        for _, manifest in read_manifests(data_dir / "manifests"):
            refs.add(manifest.image)
            refs.update(manifest.shared_images)
    return refs


@dataclass(frozen=True)
class Collectable:
    """One image gc would remove."""

    ref: str          # a tag, or an image id for a dangling image
    reason: str
    size_bytes: int


def namespaces(config: CjmConfig) -> tuple[str, ...]:
    """The repository prefixes this configuration's images live under."""
    docker = config.docker
    return tuple(sorted({docker.image_prefix, docker.runtime_repository, docker.stack_repository}))


def plan_image_gc(engine: Engine, config: CjmConfig, data_dirs: Iterable[Path], *,
                  grace_s: float = DEFAULT_GRACE_S, now: float | None = None) -> list[Collectable]:
    """What ``gc --images`` would remove, tags first, then dangling images."""
    spaces = namespaces(config)
    keep = referenced_images(data_dirs)
    cutoff = (now if now is not None else time.time()) - grace_s
    out: list[Collectable] = []
    for image in engine.list_images(label=f"{labels.MANAGED}=true"):
        if int(image.get("Created") or 0) > cutoff:
            continue
        for tag in image.get("RepoTags") or []:
            if tag.split("/", 1)[0] in spaces and "/" in tag and tag not in keep:
                out.append(Collectable(tag, "no manifest names it", int(image.get("Size") or 0)))
    for image in engine.find_images(f"{labels.MANAGED}=true", dangling=True):
        own = (image.get("Labels") or {}).get(labels.NAMESPACE)
        if own in spaces and int(image.get("Created") or 0) <= cutoff \
                and not [t for t in image.get("RepoTags") or [] if t != "<none>:<none>"]:
            out.append(Collectable(str(image["Id"]), "dangling (untagged)",
                                   int(image.get("Size") or 0)))
    return out


def collect(engine: Engine, items: Iterable[Collectable]) -> list[tuple[Collectable, str]]:
    """Remove each item (never forced); returns (item, "removed" or why not)."""
    done = []
    for item in items:
        try:
            removed = engine.remove_image(item.ref)
            done.append((item, "removed" if removed else "already gone"))
        except EngineError as exc:
            done.append((item, f"kept: {exc.message}"))
    return done
