"""`cjm-ctl estimate-size`: a built image's real size, else an estimate from package sizes.

The estimate adds the base image (when present) and, for each package pip would install
directly (worker runtime, interface libs, the spec's pip section, the plugin and its declared
dependencies), the largest file PyPI lists for it. That is a compressed, first-level figure:
transitive dependencies are not resolved. Names are looked up in PEP 503 form and version pins
are honoured (cjm-plugin-system's SG-37 used underscore names, got 404s and reported 0).
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from cjm_docker.images.context import collect_tree
from cjm_docker.spec.location import Location
from cjm_docker.spec.resolve import PluginSpec
from cjm_docker.spec.sources import PackageKind, PackageRef, https_context, parse_package

PYPI_JSON = "https://pypi.org/pypi/{name}/json"
LOOKUP_TIMEOUT_S = 10.0

Lookup = Callable[[str, str | None], int | None]


@dataclass(frozen=True)
class PackageSize:
    """One directly installed package."""

    spec: str
    lookup_name: str | None   # the PyPI name asked for (None: not on PyPI / local)
    size_bytes: int | None    # None: unknown
    note: str = ""


@dataclass(frozen=True)
class SizeEstimate:
    """Sizes for one plugin."""

    plugin: str
    image_bytes: int | None               # the built image's real size, when it exists
    image_ref: str | None
    base_bytes: int | None
    packages: tuple[PackageSize, ...] = ()

    @property
    def estimated_bytes(self) -> int:
        return (self.base_bytes or 0) + sum(p.size_bytes or 0 for p in self.packages)

    @property
    def total_bytes(self) -> int:
        return self.image_bytes if self.image_bytes is not None else self.estimated_bytes


def human_size(count: float) -> str:
    """1024-based, as the old tool printed: ``12.3 MB``."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(count) < 1024 or unit == "TB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def pypi_lookup(extra_ca_files: Iterable[Path] = (), timeout: float = LOOKUP_TIMEOUT_S) -> Lookup:
    """A lookup ``(normalized name, version or None) -> bytes`` against PyPI's JSON API."""
    context = https_context(extra_ca_files)

    def lookup(name: str, version: str | None) -> int | None:
        try:
            request = urllib.request.Request(PYPI_JSON.format(name=name),
                                             headers={"User-Agent": "cjm-docker"})
            with urllib.request.urlopen(request, timeout=timeout, context=context) as resp:
                doc = json.load(resp)
        except (urllib.error.URLError, OSError, ValueError):
            return None
        files = doc.get("urls") or []
        if version:
            files = (doc.get("releases") or {}).get(version) or []
        sizes = [int(f.get("size") or 0) for f in files]
        return max(sizes) if sizes else None

    return lookup


def _requirement(spec: str) -> PackageRef | None:
    try:
        return parse_package(spec, Path.cwd(), Location("estimate"))
    except Exception:
        return None


def _direct_packages(spec: PluginSpec, worker_requirements: Iterable[str]) -> list[tuple[str, PackageRef | None]]:
    out: list[tuple[str, PackageRef | None]] = [(r, _requirement(r)) for r in worker_requirements]
    out += [(lib.raw, lib) for lib in spec.interface_libs]
    if spec.environment is not None:
        out += [(r, _requirement(r)) for r in spec.environment.pip_dependencies]
    project = spec.package.project
    if project is not None and project.dependencies:
        out += [(r, _requirement(r)) for r in project.dependencies]
    out.append((spec.package.raw, spec.package))
    return out


def package_sizes(spec: PluginSpec, worker_requirements: Iterable[str], lookup: Lookup) -> tuple[PackageSize, ...]:
    """The size of each package the plugin installs directly (looked up in parallel)."""
    items = _direct_packages(spec, worker_requirements)

    def one(item: tuple[str, PackageRef | None]) -> PackageSize:
        raw, ref = item
        if ref is None:
            return PackageSize(raw, None, None, "not a requirement")
        if ref.kind == PackageKind.LOCAL and ref.path is not None:
            source_size = sum(len(f.data) for f in collect_tree(ref.path))
            return PackageSize(raw, None, source_size, "local source")
        name = ref.pypi_name
        if name is None:
            return PackageSize(raw, None, None, "unknown name")
        size = lookup(name, ref.version)
        note = "" if size is not None else "not found on PyPI"
        if ref.kind == PackageKind.VCS:
            note = "VCS: PyPI release size" if size is not None else "VCS: not on PyPI"
        return PackageSize(raw, re.sub(r"\s", "", name), size, note)

    with ThreadPoolExecutor(max_workers=8) as pool:
        return tuple(pool.map(one, items))
