"""Where plugin code and environment specs come from.

Package specs are classified the way pip reads them (a local path, a VCS URL, an archive URL or a
requirement) and named the way cjm-plugin-system names them, with its defects fixed: version pins
and extras are stripped before a name is derived, and a local project's name is read from its
packaging files (local_project.py) rather than guessed from its folder.
"""

from __future__ import annotations

import re
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from urllib.parse import urlparse

from cjm_docker.spec.local_project import LocalProject, read_local_project
from cjm_docker.spec.location import Location

FETCH_TIMEOUT_S = 15.0
_REQ_NAME = re.compile(r"^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(\[[^\]]*\])?\s*(.*)$")
_PIN = re.compile(r"^===?\s*([A-Za-z0-9.+!*_-]+)\s*$")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")


class PackageKind(str, Enum):
    """How pip gets a package."""

    LOCAL = "local"              # a folder on this machine (copied into the build context)
    VCS = "vcs"                  # git+https://... (needs git in the image)
    URL = "url"                  # an archive or wheel URL
    REQUIREMENT = "requirement"  # a name with optional extras and version specifiers


@dataclass(frozen=True)
class PackageRef:
    """One pip spec from plugins.yaml, classified.

    Attributes:
        raw: the spec as written.
        kind: local / vcs / url / requirement.
        dist_name: the distribution name, when it can be known without installing.
        version: the pinned version (``==``), when there is one.
        path: the resolved folder of a local package.
        project: a local package's pyproject declarations.
    """

    raw: str
    kind: PackageKind
    dist_name: str | None = None
    version: str | None = None
    path: Path | None = None
    project: LocalProject | None = None

    @property
    def import_name(self) -> str:
        """The top-level module the plugin's ``meta`` lives in (cjm-plugin-system's rule)."""
        if self.path is not None:
            found = _package_dir_with_meta(self.path, self.dist_name)
            if found:
                return found
        base = self.dist_name or self.raw
        return re.sub(r"[-.]", "_", base)

    @property
    def pypi_name(self) -> str | None:
        """The normalized (PEP 503) name to look up on PyPI; None for local folders."""
        if self.kind == PackageKind.LOCAL or not self.dist_name:
            return None
        return normalize_name(self.dist_name)


def normalize_name(name: str) -> str:
    """PEP 503 normalization: PyPI answers to this form (SG-37 used underscores and got 404s)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _package_dir_with_meta(root: Path, dist_name: str | None) -> str | None:
    candidates = []
    if dist_name:
        candidates += [re.sub(r"[-.]", "_", dist_name), re.sub(r"[-.]", "_", dist_name).lower()]
    for base in (root, root / "src"):
        for cand in candidates:
            if (base / cand / "meta.py").is_file():
                return cand
    found = sorted(p.parent.name for base in (root, root / "src") if base.is_dir()
                   for p in base.glob("*/meta.py"))
    return found[0] if len(found) == 1 else None


def _looks_local(spec: str) -> bool:
    return (spec.startswith((".", "/", "~", "file:")) or "\\" in spec
            or ("/" in spec and "://" not in spec and not spec.startswith("git+")))


def parse_package(raw: str, base_dir: Path, where: Location) -> PackageRef:
    """Classify one pip spec from plugins.yaml.

    Args:
        raw: the spec (``name``, ``name==1.0``, ``git+https://...``, ``./path``, ``-e ./path``).
        base_dir: the folder relative paths resolve against (the plugins.yaml folder).
        where: for messages.

    Raises:
        SpecError: an empty or unsafe spec, a pip option, or a local path that does not exist.
    """
    spec = raw.strip()
    if not spec or _UNSAFE.search(spec):
        raise where.error(f"{raw!r} is not a usable pip spec (empty, or a control character).")
    editable = spec.startswith("-e ") or spec.startswith("--editable ")
    if editable:
        spec = spec.split(None, 1)[1].strip()
    elif spec.startswith("-"):
        raise where.error(f"{raw!r} is a pip option; give a package spec (name, URL or path).")
    if spec.startswith("git+") or spec.startswith(("hg+", "svn+", "bzr+")):
        return PackageRef(raw=raw, kind=PackageKind.VCS, dist_name=_vcs_name(spec))
    if re.match(r"^[a-z]+://", spec):
        name = Path(urlparse(spec).path).name
        return PackageRef(raw=raw, kind=PackageKind.URL,
                          dist_name=re.split(r"-\d", name, maxsplit=1)[0] or None)
    if editable or _looks_local(spec):
        path = Path(spec.removeprefix("file://").removeprefix("file:")).expanduser()
        path = path if path.is_absolute() else (base_dir / path)
        path = path.resolve()
        if not path.is_dir():
            raise where.error(f"the local package folder {path} does not exist.",
                              hint="Relative paths resolve against the plugins.yaml folder.")
        project = read_local_project(path, where)
        return PackageRef(raw=raw, kind=PackageKind.LOCAL, dist_name=project.name, path=path,
                          project=project)
    match = _REQ_NAME.match(spec)
    if match is None:
        raise where.error(f"{raw!r} is not a valid requirement (expected e.g. 'name' or "
                          "'name==1.0' or 'git+https://...').")
    rest = match.group(3).split(";", 1)[0].strip()
    if rest and not re.match(r"^(\(?\s*(==|===|!=|<=|>=|<|>|~=)\s*[A-Za-z0-9.*+!_-]+\s*,?\s*)+\)?$", rest):
        raise where.error(f"{raw!r} is not a valid requirement: cannot read {rest!r} as a "
                          "version specifier.")
    pin = _PIN.match(rest)
    return PackageRef(raw=raw, kind=PackageKind.REQUIREMENT, dist_name=match.group(1),
                      version=pin.group(1) if pin and "*" not in pin.group(1) else None)


def _vcs_name(spec: str) -> str | None:
    egg = re.search(r"[#&]egg=([A-Za-z0-9._-]+)", spec)
    if egg:
        return egg.group(1)
    path = urlparse(spec.split("+", 1)[1]).path.split("@", 1)[0].rstrip("/")
    name = path.rsplit("/", 1)[-1].removesuffix(".git")
    return name or None


def https_context(extra_ca_files: Iterable[Path] = ()) -> ssl.SSLContext:
    """The system trust store plus the configured extra CA certificates (TLS-intercepting
    proxies sign with one of those)."""
    context = ssl.create_default_context()
    for ca in extra_ca_files:
        try:
            context.load_verify_locations(cafile=str(ca))
        except (OSError, ssl.SSLError):
            continue  # an unreadable extra CA must not break fetching from public hosts
    return context


def fetch_url(url: str, where: Location, *, extra_ca_files: Iterable[Path] = (),
              timeout: float = FETCH_TIMEOUT_S) -> str:
    """GET ``url`` as text, failing with a SpecError that names it."""
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "cjm-docker"})
        with urllib.request.urlopen(request, timeout=timeout,
                                    context=https_context(extra_ca_files)) as resp:
            return resp.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        raise where.error(f"cannot fetch {url}: HTTP {exc.code} {exc.reason}.") from exc
    except (urllib.error.URLError, OSError, ValueError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "reason", exc)
        raise where.error(f"cannot fetch {url}: {reason}.",
                          hint=f"Check the URL and the network (timeout {timeout:g} s).") from exc


def read_env_file(ref: str, base_dir: Path, where: Location, *,
                  extra_ca_files: Iterable[Path] = ()) -> tuple[str, str]:
    """The text of an env_file (a path or an http(s) URL) and its display name."""
    if re.match(r"^https?://", ref):
        return fetch_url(ref, where, extra_ca_files=extra_ca_files), ref
    path = Path(ref).expanduser()
    path = path if path.is_absolute() else (base_dir / path)
    try:
        return path.read_text(), str(path)
    except FileNotFoundError as exc:
        raise where.error(f"the environment spec {path} does not exist.",
                          hint="Relative paths resolve against the plugins.yaml folder.") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise where.error(f"cannot read the environment spec {path}: {exc}.") from exc
