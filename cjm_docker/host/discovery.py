"""Manifest discovery: the search paths, in order, each in sorted order; the first name wins.

Only the data dir's ``manifests/`` holds manifests this user's ``cjm-ctl`` wrote; that folder is
trusted. Any other folder is searched only on the user's word (``manifest_search_paths`` in
cjm.yaml, or ``search_paths`` given in code), and what it holds is someone else's: its
manifests may not bind host system folders or use the host's network (see docs/security.md).
Every manifest, trusted or not, passes the name rule and must be named ``<name>.json``.
"""

from __future__ import annotations

import logging
from pathlib import Path, PurePosixPath

from cjm_docker.errors import ManifestError
from cjm_docker.manifest import Manifest, read_manifest
from cjm_docker.metadata import PluginMeta

log = logging.getLogger(__name__)

# Host folders a manifest from outside the data dir may never bind into a container.
SYSTEM_FOLDERS = ("/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/proc",
                  "/root", "/run", "/sbin", "/sys", "/tmp", "/usr", "/var", "/var/run/docker.sock")


def default_search_paths(manifests_dir: Path, extra: list[Path] | None = None) -> list[Path]:
    """The data dir's manifests, then the folders the user opted into (cjm.yaml)."""
    return [manifests_dir, *(extra or [])]


def meta_from_manifest(manifest: Manifest) -> PluginMeta:
    """The PluginMeta 0.0.x built for a manifest."""
    return PluginMeta(
        name=manifest.name, version=manifest.version, description=manifest.description,
        author=manifest.author, package_name=manifest.module, category=manifest.category,
        interface=manifest.interface, config_schema=manifest.config_schema,
        manifest=manifest.model_dump(mode="json", by_alias=True), model=manifest)


def _reaches(source: str, folders: tuple[str, ...]) -> str | None:
    """The first of ``folders`` that binding ``source`` would expose (itself, inside, or a
    parent of it), or None."""
    path = PurePosixPath(Path(source).resolve(strict=False).as_posix())
    for folder in folders:
        system = PurePosixPath(folder)
        if path == system or system in path.parents or (folder != "/" and path in system.parents):
            return folder
    return None


def project_root(folder: Path) -> Path | None:
    """The folder a foreign manifests folder belongs to (``<project>/.cjm/manifests`` or a
    deployment's ``<bundle>/manifests``); None when that is too near the root to be a project."""
    base = folder.resolve().parent
    if base.name == ".cjm":
        base = base.parent
    return base if len(base.parts) >= 4 else None


def foreign_problem(manifest: Manifest, folder: Path | None = None,
                    private: tuple[Path, ...] = ()) -> str | None:
    """Why a manifest from outside the data dir (found in ``folder``) may not run here, or None.

    Its volumes may bind folders of its own project; anything else that reaches a system
    folder (``/etc``, ``/home``, the Docker socket...) or a ``private`` one (the data dir, the
    runtime dir) is refused.
    """
    also = tuple(str(p.resolve()) for p in private)
    base = project_root(folder) if folder is not None else None
    for volume in manifest.runtime.volumes:
        source = Path(volume.source).resolve(strict=False)
        in_project = base is not None and (source == base or base in source.parents)
        folder_hit = _reaches(volume.source, also if in_project else (*SYSTEM_FOLDERS, *also))
        if folder_hit is not None:
            return f"it binds {volume.source} (the host's {folder_hit}) into the container"
    if manifest.runtime.network == "host":
        return "it asks for the host's network"
    return None


def read_trusted(path: Path, *, foreign: bool, private: tuple[Path, ...] = ()) -> Manifest:
    """Read one manifest and hold it to the rules of where it was found.

    Raises:
        ManifestError: invalid, misnamed, or (from outside the data dir) asking for host access.
    """
    manifest = read_manifest(path)
    if path.stem != manifest.name:
        raise ManifestError(f"Manifest {path} names plugin '{manifest.name}' but is not "
                            f"{manifest.name}.json; it was not written by cjm-ctl.",
                            hint="Re-create it with `cjm-ctl install-all`.")
    if foreign:
        problem = foreign_problem(manifest, path.parent, private)
        if problem is not None:
            raise ManifestError(
                f"Manifest {path} comes from outside the data dir and {problem}; such a "
                "manifest may not reach the host's system folders.", plugin=manifest.name,
                hint="Install the plugin with `cjm-ctl install-all` from a plugins.yaml you "
                     "trust instead.")
    return manifest


def discover(search_paths: list[Path], trusted: Path | None = None,
             private: tuple[Path, ...] = ()) -> tuple[list[PluginMeta], dict[str, str]]:
    """Read every manifest; returns the metas (deterministic order) and the errors by file.

    Args:
        search_paths: the folders, first wins.
        trusted: the data dir's manifests folder; every other folder is foreign.
        private: host folders a foreign manifest may not bind (the data dir, the runtime dir).
    """
    found: list[PluginMeta] = []
    errors: dict[str, str] = {}
    seen: set[str] = set()
    trusted_resolved = trusted.resolve() if trusted is not None else None
    for folder in search_paths:
        if not folder.is_dir():
            continue
        foreign = folder.resolve() != trusted_resolved
        for path in sorted(folder.glob("*.json")):
            try:
                manifest = read_trusted(path, foreign=foreign, private=private)
            except ManifestError as exc:
                errors[str(path)] = str(exc)
                log.warning("Skipping manifest %s: %s", path, exc)
                continue
            if manifest.name in seen:
                continue
            seen.add(manifest.name)
            found.append(meta_from_manifest(manifest))
    return found, errors
