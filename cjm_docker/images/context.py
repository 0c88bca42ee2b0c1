"""Build contexts: the files, a byte-stable tar of them, and the content hash that names images.

The hash covers everything that goes into a build: the rendered Dockerfile, every context file
(path, mode and bytes, sorted), the resolved base image id and the build args. Equal hash, equal
image, so an unchanged plugin is never rebuilt. Proxy settings are left out: Docker keeps its
predefined proxy args out of images and out of its own cache key too.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from cjm_docker.images.dockerignore import DockerIgnore

DOCKERFILE = "Dockerfile"
HASH_SCHEME = b"cjm-docker/image-hash/1\n"
TAG_HASH_LENGTH = 16
# Past this, a build warns: a context that big is usually weights or data that belong in the
# models folder (or in a .dockerignore), not baked into every image layer.
LARGE_CONTEXT_BYTES = 100 * 1024**2
# A fixed mtime for every context entry. Not 0: wheel builds inside the image refuse
# timestamps before 1980.
CONTEXT_MTIME = 946684800  # 2000-01-01T00:00:00Z

_SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", ".venv", "venv", ".tox", ".nox", "build",
              "dist", "node_modules", ".mypy_cache", ".pytest_cache", ".ruff_cache",
              ".ipynb_checkpoints", ".eggs"}
_SKIP_SUFFIXES = (".pyc", ".pyo", ".egg-info", ".swp")
_SKIP_FILES = {".DS_Store"}


@dataclass(frozen=True)
class ContextFile:
    """One file of a build context.

    Attributes:
        path: POSIX path inside the context.
        data: the bytes.
        mode: 0o755 for executables, else 0o644 (nothing else is kept: builds stay stable).
    """

    path: str
    data: bytes
    mode: int = 0o644

    def moved(self, path: str) -> ContextFile:
        """The same file at another context path."""
        return replace(self, path=path)


@dataclass(frozen=True)
class DockerfileContext:
    """What one ``docker build`` gets: a rendered Dockerfile, its context files, its build args.

    Attributes:
        base_image: the ``FROM`` reference.
        dockerfile: the rendered Dockerfile.
        files: the other context files, sorted by path.
        build_args: build args that shape the image (part of the content hash).
        transient_args: proxy args (passed, not hashed, not stored in the image).
    """

    base_image: str
    dockerfile: str
    files: tuple[ContextFile, ...]
    build_args: tuple[tuple[str, str], ...]
    transient_args: tuple[tuple[str, str], ...]

    def context_files(self) -> tuple[ContextFile, ...]:
        """The whole context: the Dockerfile and the files."""
        return (ContextFile(DOCKERFILE, self.dockerfile.encode()), *self.files)

    def all_build_args(self) -> dict[str, str]:
        """What to pass to the engine."""
        return dict(self.transient_args) | dict(self.build_args)


def collect_tree(root: Path) -> tuple[ContextFile, ...]:
    """Every file under ``root`` (paths relative to it, sorted), minus VCS folders, caches,
    virtual environments, build outputs and what ``root/.dockerignore`` excludes.

    Symlinks to files are followed; symlinked folders are not (they could loop).
    """
    ignore = DockerIgnore.of_folder(root)
    # An ignored folder is not even walked, unless a "!" rule might re-include something in it.
    prune = ignore and not any(rule.include for rule in ignore.rules)
    out = []
    for folder, dirs, files in os.walk(root):
        here = Path(folder).relative_to(root).as_posix()
        prefix = "" if here == "." else here + "/"
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.endswith(_SKIP_SUFFIXES)
                         and not (Path(folder) / d).is_symlink()
                         and not (prune and ignore.ignored(prefix + d)))
        for name in files:
            if name in _SKIP_FILES or name.endswith(_SKIP_SUFFIXES):
                continue
            if ignore and ignore.ignored(prefix + name):
                continue
            path = Path(folder) / name
            if not path.is_file():
                continue
            executable = bool(path.stat().st_mode & stat.S_IXUSR)
            out.append(ContextFile(path.relative_to(root).as_posix(), path.read_bytes(),
                                   0o755 if executable else 0o644))
    return tuple(sorted(out, key=lambda f: f.path))


def content_hash(files: Iterable[ContextFile], *, base_image_id: str,
                 build_args: Iterable[tuple[str, str]] = ()) -> str:
    """The sha256 (hex) of a build's inputs. ``files`` includes the Dockerfile."""
    digest = hashlib.sha256(HASH_SCHEME)
    for f in sorted(files, key=lambda f: f.path):
        digest.update(b"file\0%s\0%o\0%d\0" % (f.path.encode(), f.mode, len(f.data)))
        digest.update(f.data)
    digest.update(b"base\0%s\0" % base_image_id.encode())
    for key, value in sorted(build_args):
        digest.update(b"arg\0%s\0%s\0" % (key.encode(), value.encode()))
    return digest.hexdigest()


def context_tar(files: Iterable[ContextFile]) -> bytes:
    """A deterministic tar of ``files`` (sorted, fixed owner and mtime)."""
    buffer = io.BytesIO()
    seen_dirs: set[str] = set()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for f in sorted(files, key=lambda f: f.path):
            parts = f.path.split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                folder = "/".join(parts[:depth])
                if folder not in seen_dirs:
                    seen_dirs.add(folder)
                    tar.addfile(_info(folder, 0, 0o755, tarfile.DIRTYPE))
            tar.addfile(_info(f.path, len(f.data), f.mode, tarfile.REGTYPE), io.BytesIO(f.data))
    return buffer.getvalue()


def _info(name: str, size: int, mode: int, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.type, info.mtime = size, mode, kind, CONTEXT_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info
