"""Installed plugins: their manifests, the state of their images, and their removal."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from cjm_docker import labels, naming
from cjm_docker.config import CjmConfig
from cjm_docker.engine import Engine
from cjm_docker.errors import ManifestError, UnknownPluginError
from cjm_docker.manifest import Manifest, RuntimeSettings, read_manifest
from cjm_docker.name_rule import name_problem, path_for


class ImageStatus(str, Enum):
    """How an installed plugin's image relates to its manifest and plugins.yaml."""

    PRESENT = "present"  # the tag exists and holds the build the manifest recorded
    MISSING = "missing"  # the tag is gone (removed, or pruned)
    STALE = "stale"      # plugins.yaml (or the base image) would build something else now, or
                         # the tag holds another build than the manifest recorded


@dataclass(frozen=True)
class ImageState:
    """An image's status, why, and what to run about it."""

    status: ImageStatus
    reason: str
    action: str = ""              # a command, "" when nothing needs doing
    size_bytes: int | None = None


@dataclass(frozen=True)
class InstalledPlugin:
    """One row of `cjm-ctl list`."""

    manifest: Manifest
    path: Path
    status: ImageStatus
    size_bytes: int | None
    reason: str = ""
    action: str = ""


def image_state(manifest: Manifest, image: dict[str, Any] | None,
                expected_tag: str | None = None,
                expected_runtime: RuntimeSettings | None = None) -> ImageState:
    """The one judgement of "current" that `list`, `show` and `install-all` share.

    An image is the manifest's when it carries the content hash the manifest was built from:
    the same inputs give the same hash, so a tag re-committed by an identical build from another
    data dir (a new image id) is still this plugin's image. The image id decides only for
    images built before the hash was recorded.

    Args:
        image: ``docker image inspect`` of ``manifest.image`` (None: absent).
        expected_tag: the tag plugins.yaml would build now, when known.
        expected_runtime: plugins.yaml's runtime settings now (not in the image hash, but in
            the manifest: a change means the manifest is made again), when known.
    """
    install = f"cjm-ctl install-all -p {manifest.spec_name or manifest.name}"
    if image is None:
        return ImageState(ImageStatus.MISSING, f"its image {manifest.image} is not on this engine",
                          install)
    size = int(image.get("Size") or 0)
    if expected_tag is not None and expected_tag != manifest.image:
        return ImageState(ImageStatus.STALE, "plugins.yaml, the plugin's files, the base image or "
                          f"cjm-docker itself changed since it was built (it would now build "
                          f"{expected_tag})", install, size)
    if expected_runtime is not None and expected_runtime != manifest.runtime:
        return ImageState(ImageStatus.STALE, "its runtime settings in plugins.yaml (resources, "
                          "env, volumes, network, ...) changed since it was installed", install, size)
    label = str(((image.get("Config") or {}).get("Labels") or {}).get(labels.SPEC_HASH) or "")
    recorded = manifest.image_hash or manifest.image.rpartition(":")[2]
    if label and recorded:
        if label.startswith(recorded):
            return ImageState(ImageStatus.PRESENT, "the tag holds the recorded build", "", size)
        return ImageState(ImageStatus.STALE, f"the tag {manifest.image} now holds another build "
                          "(content hash differs from the manifest's)", install + " --force", size)
    if manifest.image_id and image.get("Id") != manifest.image_id:
        return ImageState(ImageStatus.STALE, f"the tag {manifest.image} now names another image "
                          "than the manifest recorded", install + " --force", size)
    return ImageState(ImageStatus.PRESENT, "the tag holds the recorded image", "", size)


def read_manifests(folder: Path) -> list[tuple[Path, Manifest]]:
    """Every valid manifest in ``folder``, sorted by name (invalid files are skipped)."""
    out = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            out.append((path, read_manifest(path)))
        except ManifestError:
            continue
    return sorted(out, key=lambda item: item[1].name)


class Inventory:
    """The manifests in the data dir, seen together with the engine's images."""

    def __init__(self, config: CjmConfig, engine: Engine | None = None):
        self.config = config
        self._engine = engine

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = Engine()
        return self._engine

    def manifests(self) -> list[tuple[Path, Manifest]]:
        return read_manifests(self.config.manifests_dir)

    def manifest_for_spec(self, spec_name: str) -> Manifest | None:
        """The manifest a plugins.yaml entry produced, if any."""
        return next((m for _, m in self.manifests() if m.spec_name == spec_name), None)

    def manifest_named(self, name: str) -> Manifest | None:
        """The manifest with this (manifest) name, if any."""
        if name_problem(name) is not None:
            return None
        path = path_for(self.config.manifests_dir, name, ".json")
        if not path.is_file():
            return None
        try:
            return read_manifest(path)
        except ManifestError:
            return None

    def name_map(self) -> dict[str, str]:
        """Manifest name -> plugins.yaml name, for commands that accept either."""
        return {m.name: m.spec_name for _, m in self.manifests() if m.spec_name}

    def find(self, name: str) -> tuple[Path, Manifest] | None:
        """A manifest by manifest name or plugins.yaml name."""
        return naming.pick(name, self.manifests(), lambda row: (row[1].name, row[1].spec_name))

    def unknown(self, name: str) -> UnknownPluginError:
        """The error for a name no installed plugin answers to (names to type, near misses)."""
        return naming.unknown_plugin(
            name, naming.typable((m.name, m.spec_name) for _, m in self.manifests()),
            where=f"is installed in {self.config.manifests_dir}",
            hint="`cjm-ctl list` shows what is installed; `cjm-ctl install-all` installs "
                 "plugins.yaml's plugins.")

    def state(self, manifest: Manifest, expected_tag: str | None = None,
              expected_runtime: RuntimeSettings | None = None) -> ImageState:
        """The image's state for one manifest (see ``image_state``)."""
        return image_state(manifest, self.engine.image_inspect(manifest.image), expected_tag,
                           expected_runtime)

    def status(self, manifest: Manifest, expected_tag: str | None = None) -> tuple[ImageStatus, int | None]:
        """The image's status and size (bytes) for one manifest.

        Args:
            expected_tag: the tag plugins.yaml would build now, when known.
        """
        state = self.state(manifest, expected_tag)
        return state.status, state.size_bytes

    def listing(self, expected_tags: dict[str, str] | None = None,
                expected_runtimes: dict[str, RuntimeSettings] | None = None) -> list[InstalledPlugin]:
        """Every installed plugin with its image status (``expected_*``: spec name -> what
        plugins.yaml says now)."""
        rows = []
        for path, manifest in self.manifests():
            state = self.state(manifest, (expected_tags or {}).get(manifest.spec_name),
                               (expected_runtimes or {}).get(manifest.spec_name))
            rows.append(InstalledPlugin(manifest, path, state.status, state.size_bytes,
                                        state.reason, state.action))
        return rows

    def remove(self, manifest: Manifest, path: Path) -> bool:
        """Remove the plugin's image tag, then its manifest. True when an image was removed.

        Raises:
            EngineError: the image is in use by a container (the manifest is kept then).
        """
        removed = self.engine.remove_image(manifest.image)
        path.unlink(missing_ok=True)
        return removed


def manifest_json(manifest: Manifest) -> str:
    """The manifest as `cjm-ctl` prints it."""
    return json.dumps(json.loads(manifest.to_json()), indent=2, sort_keys=True)
