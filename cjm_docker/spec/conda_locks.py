"""Conda lock files as environment specs: ``@EXPLICIT`` lists, conda-lock and pixi.lock.

Each becomes the same thing: the exact conda packages (by URL, with their hashes) for this
machine's platform, plus the PyPI packages the lock pins (installed by pip, hash-checked). The
image's installer then links exactly those packages; nothing is solved anew.

    explicit    `conda list --explicit` / `micromamba env export --explicit`: one URL a line
    conda-lock  conda-lock.yml, version 1 (``package:`` entries with ``manager`` and ``platform``)
    pixi.lock   versions 4 to 6 (``environments.default.packages.<platform>``)
"""

from __future__ import annotations

import platform
import re
from dataclasses import dataclass
from typing import Any

import yaml

from cjm_docker.spec.location import Location

_PACKAGE_URL = re.compile(r"^(?:https?|file)://\S+/([^/]+)/([^/]+?)(\.conda|\.tar\.bz2)$")
_MD5 = re.compile(r"^[0-9a-fA-F]{32}$")
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_MACHINES = {"x86_64": "linux-64", "amd64": "linux-64", "aarch64": "linux-aarch64",
             "arm64": "linux-aarch64", "ppc64le": "linux-ppc64le"}


def conda_platform() -> str:
    """The conda subdir of Linux containers on this machine (``linux-64`` on x86_64)."""
    return _MACHINES.get(platform.machine().lower(), "linux-64")


@dataclass(frozen=True)
class LockedPackage:
    """One conda package a lock pins.

    Attributes:
        url: where the package file is (https, or file:// for a local channel).
        sha256: its sha256, when the lock records it.
        md5: its md5, when the lock records it.
    """

    url: str
    sha256: str | None = None
    md5: str | None = None

    @property
    def channel(self) -> str:
        """The channel URL: the package URL without ``/<subdir>/<file>``."""
        return self.url.rsplit("/", 2)[0]

    @property
    def subdir(self) -> str:
        return self.url.rsplit("/", 2)[1]

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[1]

    @property
    def name_version_build(self) -> tuple[str, str, str]:
        stem = re.sub(r"(\.conda|\.tar\.bz2)$", "", self.filename)
        name, version, build = stem.rsplit("-", 2)
        return name, version, build

    def with_channel(self, channel: str) -> LockedPackage:
        """The same package in another copy of its channel (a mirror, or the build's copy)."""
        return LockedPackage(f"{channel.rstrip('/')}/{self.subdir}/{self.filename}",
                             self.sha256, self.md5)


@dataclass(frozen=True)
class CondaLock:
    """What a lock file pins for one platform."""

    kind: str                              # explicit, conda-lock or pixi.lock
    packages: tuple[LockedPackage, ...]
    pip: tuple[str, ...] = ()              # pip requirements ("name @ url#sha256=...")

    @property
    def python(self) -> str | None:
        """``=X.Y.Z`` of the locked python package, when there is one."""
        for package in self.packages:
            name, version, _ = package.name_version_build
            if name == "python":
                return f"={version}"
        return None


def lock_kind(text: str, doc: Any) -> str | None:
    """Which lock format ``text`` is (``doc`` is its YAML, or None when it is not YAML)."""
    if any(line.strip() == "@EXPLICIT" for line in text.splitlines()):
        return "explicit"
    if isinstance(doc, dict) and isinstance(doc.get("package"), list) and "version" in doc:
        return "conda-lock"
    if isinstance(doc, dict) and isinstance(doc.get("environments"), dict) \
            and isinstance(doc.get("packages"), list):
        return "pixi.lock"
    return None


def _package(url: Any, where: Location, what: str, sha256: Any = None, md5: Any = None) -> LockedPackage:
    if not isinstance(url, str) or not _PACKAGE_URL.match(url.strip()):
        raise where.error(f"{what} is not a conda package URL (https:// or file://, ending in "
                          f".conda or .tar.bz2): {url!r}.")
    sha256 = sha256 if isinstance(sha256, str) and _SHA256.match(sha256) else None
    md5 = md5 if isinstance(md5, str) and _MD5.match(md5) else None
    return LockedPackage(url.strip(), sha256, md5)


def _pip(url: Any, sha256: Any, where: Location, what: str, name: Any = None) -> str:
    if not isinstance(url, str) or not re.match(r"^(https?|file)://\S+$", url):
        raise where.error(f"{what} is not a PyPI package URL: {url!r} (a local or editable "
                          "PyPI entry cannot be built into an image).")
    fragment = f"#sha256={sha256}" if isinstance(sha256, str) and _SHA256.match(sha256) else ""
    return f"{name} @ {url}{fragment}" if isinstance(name, str) and name else f"{url}{fragment}"


def parse_explicit(text: str, where: Location) -> CondaLock:
    """An ``@EXPLICIT`` file: package URLs, each optionally followed by ``#<md5>`` or
    ``#sha256:<hash>``."""
    packages = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#") or line == "@EXPLICIT":
            continue
        url, _, digest = line.partition("#")
        sha256 = digest.removeprefix("sha256:") if digest.startswith("sha256:") else None
        packages.append(_package(url, where, f"line {number}", sha256,
                                 digest if sha256 is None else None))
    return CondaLock("explicit", tuple(packages))


def parse_conda_lock(doc: dict[str, Any], where: Location, subdir: str) -> CondaLock:
    """conda-lock.yml (version 1): the non-optional entries of ``subdir``."""
    if doc.get("version") != 1:
        raise where.error(f"conda-lock version {doc.get('version')!r} is not supported (1 is).")
    packages, pip = [], []
    for i, entry in enumerate(doc["package"]):
        if not isinstance(entry, dict) or entry.get("platform") != subdir or entry.get("optional"):
            continue
        raw_hashes = entry.get("hash")
        hashes: dict[str, Any] = raw_hashes if isinstance(raw_hashes, dict) else {}
        what = f"package {i + 1} ({entry.get('name')})"
        if entry.get("manager") == "pip":
            pip.append(_pip(entry.get("url"), hashes.get("sha256"), where, what, entry.get("name")))
        else:
            packages.append(_package(entry.get("url"), where, what, hashes.get("sha256"),
                                     hashes.get("md5")))
    if not packages and not pip:
        raise where.error(f"the conda-lock file pins nothing for platform {subdir}.",
                          hint=f"Lock for it too: conda-lock -p {subdir}.")
    return CondaLock("conda-lock", tuple(packages), tuple(pip))


def parse_pixi_lock(doc: dict[str, Any], where: Location, subdir: str) -> CondaLock:
    """pixi.lock (versions 4-6): the ``default`` environment's packages for ``subdir``."""
    version = doc.get("version")
    if version not in (4, 5, 6):
        raise where.error(f"pixi.lock version {version!r} is not supported (4, 5 and 6 are).")
    env = doc["environments"].get("default")
    listed = (env or {}).get("packages", {}).get(subdir) if isinstance(env, dict) else None
    if not isinstance(listed, list) or not listed:
        raise where.error(f"pixi.lock has no packages for the default environment on {subdir}.",
                          hint=f"Add {subdir} to the workspace's platforms and run `pixi lock`.")
    details: dict[str, dict[str, Any]] = {}
    for entry in doc["packages"]:
        if isinstance(entry, dict):
            url = entry.get("conda") or entry.get("pypi") or entry.get("url")
            if isinstance(url, str):
                details[url] = entry
    packages, pip = [], []
    for i, ref in enumerate(listed):
        if not isinstance(ref, dict):
            raise where.error(f"package {i + 1} of the default environment is not a mapping.")
        url = ref.get("conda") or ref.get("pypi")
        entry = details.get(url, {}) if isinstance(url, str) else {}
        what = f"package {i + 1} of the default environment"
        if "pypi" in ref:
            pip.append(_pip(url, entry.get("sha256"), where, what, entry.get("name")))
        else:
            packages.append(_package(url, where, what, entry.get("sha256"), entry.get("md5")))
    return CondaLock("pixi.lock", tuple(packages), tuple(pip))


def parse_lock(text: str, where: Location, subdir: str | None = None) -> CondaLock | None:
    """The lock in ``text``, or None when ``text`` is no lock file (an environment.yml).

    Raises:
        SpecError: a lock file that cannot be used (names the file and the entry).
    """
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        doc = None
    kind = lock_kind(text, doc)
    subdir = subdir or conda_platform()
    if kind == "explicit":
        return parse_explicit(text, where)
    if kind == "conda-lock":
        return parse_conda_lock(doc, where, subdir)
    if kind == "pixi.lock":
        return parse_pixi_lock(doc, where, subdir)
    return None
