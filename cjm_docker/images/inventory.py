"""Installed plugins: their manifests, the state of their images, and their removal."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from cjm_docker.config import CjmConfig
from cjm_docker.engine import Engine
from cjm_docker.errors import ManifestError
from cjm_docker.manifest import Manifest, read_manifest


class ImageStatus(str, Enum):
    """How an installed plugin's image relates to its manifest and plugins.yaml."""

    PRESENT = "present"  # the tag exists and is the image the manifest names
    MISSING = "missing"  # the tag is gone (removed, or pruned)
    STALE = "stale"      # the tag exists, but plugins.yaml would build something else now,
                         # or the tag points at another image than the manifest recorded


@dataclass(frozen=True)
class InstalledPlugin:
    """One row of `cjm-ctl list`."""

    manifest: Manifest
    path: Path
    status: ImageStatus
    size_bytes: int | None


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
        path = self.config.manifests_dir / f"{name}.json"
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
        rows = self.manifests()
        return next((r for r in rows if r[1].name == name), None) or \
            next((r for r in rows if r[1].spec_name == name), None)

    def status(self, manifest: Manifest, expected_tag: str | None = None) -> tuple[ImageStatus, int | None]:
        """The image's status and size (bytes) for one manifest.

        Args:
            expected_tag: the tag plugins.yaml would build now, when known.
        """
        doc = self.engine.image_inspect(manifest.image)
        if doc is None:
            return ImageStatus.MISSING, None
        size = int(doc.get("Size") or 0)
        if expected_tag is not None and expected_tag != manifest.image:
            return ImageStatus.STALE, size
        if manifest.image_id and doc.get("Id") != manifest.image_id:
            return ImageStatus.STALE, size
        return ImageStatus.PRESENT, size

    def listing(self, expected_tags: dict[str, str] | None = None) -> list[InstalledPlugin]:
        """Every installed plugin with its image status (``expected_tags``: spec name -> tag)."""
        rows = []
        for path, manifest in self.manifests():
            expected = (expected_tags or {}).get(manifest.spec_name)
            status, size = self.status(manifest, expected)
            rows.append(InstalledPlugin(manifest, path, status, size))
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
