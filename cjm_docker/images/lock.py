"""Locks: every package and version of a plugin's environment, resolved on this host by uv.

    inputs    the plugin's requirements, the runtime's constraints (the worker's packages at
              the host's versions), the image's Python version and platform, the index settings
    resolve   ``uv pip compile ... -o pylock.toml`` on the host: no container, a second or so.
              The previous lock is the output file, and uv keeps its versions unless
              ``upgrade`` is asked for or a changed requirement needs another one
    store     ``<data_dir>/locks/<plugin>/pylock.toml`` plus the key of its inputs: a plugin whose
              inputs did not change is not resolved again, so a rebuild installs the same versions
    split     large wheels go to the shared stack layer, the rest to the plugin's own layer,
              local folders to the code layer (layers.py)

A pylock.toml (PEP 751) records each package's version, source and, for wheels, size and hash.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cjm_docker.errors import BuildError
from cjm_docker.images.bases import DEBIAN_SUITES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 hosts need tomli
    import tomli as tomllib

LOCK_SCHEME = "cjm-docker/lock/1"
RESOLVE_TIMEOUT_S = 600.0
# The glibc of the Debian release each bootstrapped Python comes from (wheels must fit it);
# a custom base image gets a conservative floor.
SUITE_GLIBC = {"bookworm": "2_36", "trixie": "2_40"}
DEFAULT_GLIBC = "2_28"
# Files of a local project that decide its metadata (a change of these re-resolves).
PACKAGING_FILES = ("pyproject.toml", "setup.py", "setup.cfg", "settings.ini")
OUTPUT_NAME = "pylock.plugin.toml"  # uv wants pylock.<name>.toml
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


@dataclass(frozen=True)
class LockedPackage:
    """One package of a lock.

    Attributes:
        name: the distribution name (normalized by uv).
        version: the exact version ("" for a local folder).
        requirement: what uv installs: ``name==version``, or ``name @ <url>``.
        wheel_bytes: the wheel's size when the index told it (None: unknown, or no wheel).
        local: a local folder (installed with the plugin's code, not from the lock).
    """

    name: str
    version: str
    requirement: str
    wheel_bytes: int | None = None
    local: bool = False

    @property
    def pin(self) -> str:
        """``name==version`` (how manifests and labels record it)."""
        return f"{self.name}=={self.version}" if self.version else self.name


@dataclass(frozen=True)
class Lock:
    """A resolved environment."""

    text: str
    packages: tuple[LockedPackage, ...]

    def pins(self) -> tuple[str, ...]:
        """Every package as ``name==version``, sorted (local folders left out)."""
        return tuple(sorted(p.pin for p in self.packages if not p.local))


def parse_pylock(text: str) -> Lock:
    """Read a pylock.toml as uv writes it.

    Raises:
        ValueError: the text is not a pylock document.
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"not TOML: {exc}") from exc
    out = []
    for entry in doc.get("packages") or []:
        out.append(_package(entry))
    return Lock(text, tuple(sorted(out, key=lambda p: p.name)))


def _package(entry: dict[str, Any]) -> LockedPackage:
    name, version = str(entry["name"]), str(entry.get("version") or "")
    if "directory" in entry:
        return LockedPackage(name, version, name, local=True)
    if "vcs" in entry:
        vcs = entry["vcs"]
        url = f"{vcs.get('type', 'git')}+{vcs['url']}@{vcs.get('commit-id', '')}".rstrip("@")
        return LockedPackage(name, version, f"{name} @ {url}")
    if "archive" in entry:
        return LockedPackage(name, version, f"{name} @ {entry['archive']['url']}")
    sizes = [int(w["size"]) for w in entry.get("wheels") or [] if w.get("size") is not None]
    return LockedPackage(name, version, f"{name}=={version}", max(sizes) if sizes else None)


def target_platform(python_version: str, custom_base: bool) -> str:
    """uv's ``--python-platform`` for an image of that Python (the host's architecture)."""
    minor = ".".join(python_version.split(".")[:2])
    glibc = DEFAULT_GLIBC if custom_base else SUITE_GLIBC.get(DEBIAN_SUITES.get(minor, ""), DEFAULT_GLIBC)
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(platform.machine().lower(), platform.machine())
    return f"{machine}-manylinux_{glibc}"


@dataclass(frozen=True)
class LockInputs:
    """Everything a resolution depends on.

    Attributes:
        requirements: requirement lines (a local folder as its absolute path).
        constraints: ``name==version`` lines the lock must keep (the runtime's packages).
        python_version: ``X.Y`` of the image.
        platform: uv's ``--python-platform``.
        index_url: replaces the default index when set.
        extra_index_url: an additional index when set.
        local_dirs: local folders among the requirements (their packaging files are hashed).
    """

    requirements: tuple[str, ...]
    constraints: tuple[str, ...]
    python_version: str
    platform: str
    index_url: str | None = None
    extra_index_url: str | None = None
    local_dirs: tuple[Path, ...] = ()

    def key(self) -> str:
        """The sha256 of the inputs: equal key, no need to resolve again."""
        digest = hashlib.sha256(LOCK_SCHEME.encode())
        for part in (*self.requirements, "--", *self.constraints, "--", self.python_version,
                     self.platform, self.index_url or "", self.extra_index_url or ""):
            digest.update(part.encode() + b"\0")
        for folder in self.local_dirs:
            for name in PACKAGING_FILES:
                path = folder / name
                if path.is_file():
                    digest.update(f"{folder}/{name}\0".encode() + path.read_bytes() + b"\0")
        return digest.hexdigest()


def uv_binary() -> str:
    """The uv executable of this host (the ``uv`` package's, else one on PATH)."""
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found is None:
            raise BuildError("uv is not installed on this host; it resolves plugin environments.",
                             hint="pip install uv (it is a dependency of cjm-docker).") from None
        return found


class Resolver:
    """Resolves and stores plugins' locks under ``locks_dir``.

    Args:
        locks_dir: ``<data_dir>/locks``.
        uv: the uv executable (found on first use by default).
    """

    def __init__(self, locks_dir: Path, uv: str | None = None):
        self.locks_dir = locks_dir
        self._uv = uv

    def stored(self, plugin: str) -> tuple[str, Lock] | None:
        """The stored lock and the key of its inputs, if any (a damaged one counts as none)."""
        folder = self.locks_dir / plugin
        try:
            key = (folder / "inputs.sha256").read_text().strip()
            return key, parse_pylock((folder / "pylock.toml").read_text())
        except (OSError, ValueError, KeyError):
            return None

    def lock(self, plugin: str, inputs: LockInputs, *, upgrade: bool = False) -> Lock:
        """The plugin's lock: the stored one when its inputs are unchanged, else resolved anew
        (keeping the stored versions where they still fit, unless ``upgrade``).

        Raises:
            BuildError: uv could not resolve (its message attached).
        """
        key = inputs.key()
        stored = self.stored(plugin)
        if stored is not None and stored[0] == key and not upgrade:
            return stored[1]
        lock = self._resolve(plugin, inputs, stored[1].text if stored else None, upgrade)
        self._store(plugin, key, lock)
        return lock

    def _resolve(self, plugin: str, inputs: LockInputs, previous: str | None,
                 upgrade: bool) -> Lock:
        with tempfile.TemporaryDirectory(prefix="cjm-lock-") as tmp:
            work = Path(tmp)
            (work / "requirements.in").write_text("".join(f"{r}\n" for r in inputs.requirements))
            (work / "constraints.txt").write_text("".join(f"{c}\n" for c in inputs.constraints))
            if previous is not None and not upgrade:
                (work / OUTPUT_NAME).write_text(previous)  # uv prefers the versions it names
            command = [self._uv or uv_binary(), "pip", "compile", "requirements.in",
                       "-c", "constraints.txt", "-o", OUTPUT_NAME, "--quiet",
                       "--python-version", inputs.python_version,
                       "--python-platform", inputs.platform]
            if inputs.index_url:
                command += ["--index-url", inputs.index_url]
            if inputs.extra_index_url:
                command += ["--extra-index-url", inputs.extra_index_url]
            if upgrade:
                command.append("--upgrade")
            # the index comes from cjm.yaml alone; the host's trust store (with a proxy's CA)
            env = {k: v for k, v in os.environ.items() if not k.startswith("UV_")}
            if not env.get("SSL_CERT_FILE") and Path(SYSTEM_BUNDLE).is_file():
                env["SSL_CERT_FILE"] = SYSTEM_BUNDLE
            try:
                proc = subprocess.run(command, cwd=work, capture_output=True, text=True,
                                      timeout=RESOLVE_TIMEOUT_S, env=env)
            except subprocess.TimeoutExpired as exc:
                raise BuildError(f"Resolving the environment of plugin '{plugin}' took over "
                                 f"{RESOLVE_TIMEOUT_S:.0f} s.", plugin=plugin, step="resolve",
                                 hint="Check the network and the package index settings.") from exc
            if proc.returncode != 0:
                raise BuildError(
                    f"The requirements of plugin '{plugin}' cannot be resolved for Python "
                    f"{inputs.python_version} together with the worker's own packages.",
                    plugin=plugin, step="resolve (uv pip compile)",
                    log_tail=(proc.stderr or proc.stdout).strip()[-4000:],
                    hint="Relax the conflicting requirement named above, or check the index "
                         "settings (docker.pip_index_url) and the network.")
            return parse_pylock((work / OUTPUT_NAME).read_text())

    def _store(self, plugin: str, key: str, lock: Lock) -> None:
        folder = self.locks_dir / plugin
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in (("pylock.toml", lock.text), ("inputs.sha256", key + "\n")):
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
            with os.fdopen(fd, "w") as fh:
                fh.write(text)
            os.replace(tmp, folder / name)
