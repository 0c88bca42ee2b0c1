"""Manifest discovery: the search paths, in order, each in sorted order; the first name wins."""

from __future__ import annotations

import logging
from pathlib import Path

from cjm_docker.errors import ManifestError
from cjm_docker.manifest import Manifest, read_manifest
from cjm_docker.metadata import PluginMeta

log = logging.getLogger(__name__)


def default_search_paths(manifests_dir: Path) -> list[Path]:
    """``./.cjm/manifests`` (project-local, wins) then the data dir's manifests."""
    return [Path.cwd() / ".cjm" / "manifests", manifests_dir]


def meta_from_manifest(manifest: Manifest) -> PluginMeta:
    """The PluginMeta 0.0.x built for a manifest."""
    return PluginMeta(
        name=manifest.name, version=manifest.version, description=manifest.description,
        author=manifest.author, package_name=manifest.module, category=manifest.category,
        interface=manifest.interface, config_schema=manifest.config_schema,
        manifest=manifest.model_dump(mode="json", by_alias=True))


def discover(search_paths: list[Path]) -> tuple[list[PluginMeta], dict[str, str]]:
    """Read every manifest; returns the metas (deterministic order) and the errors by file."""
    found: list[PluginMeta] = []
    errors: dict[str, str] = {}
    seen: set[str] = set()
    for folder in search_paths:
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.json")):
            try:
                manifest = read_manifest(path)
            except ManifestError as exc:
                errors[str(path)] = str(exc)
                log.warning("Skipping manifest %s: %s", path, exc)
                continue
            if manifest.name in seen:
                continue
            seen.add(manifest.name)
            found.append(meta_from_manifest(manifest))
    return found, errors
