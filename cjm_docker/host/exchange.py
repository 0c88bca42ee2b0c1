"""Placing a caller's file where exactly one container can read it, and nothing more.

A container's exchange folder (``<data_dir>/exchange/<container>/``) is the host's and is
mounted read-only into that container alone. A file is placed there as a hard link of a
*private* file, one nobody else holds:

- a file that ``to_temp_file()`` has just made for this call (created during the call, one
  link, owned by this user) is linked as it is: no byte is copied;
- any other file is the caller's original: it is never linked, chmod'ed or shown. The host
  copies it once into its private cache (``exchange/.private/``, never mounted; keyed by the
  original's device, inode, size and change times, so an edited original is copied again) and
  links that copy. A second call with the same unchanged file costs a link.

Every file the host creates is opened with ``O_EXCL | O_NOFOLLOW`` and its mode and group are
set on the descriptor, never through a path a link could redirect.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
import time
import uuid
from pathlib import Path

from cjm_docker.host.runtime_folder import container_user

PRIVATE = ".private"
#: A cached private copy unused for this long is deleted (checked when a new one is made).
PRIVATE_TTL_S = 600.0
_CLOCK_REALTIME_COARSE = 5   # Linux's clock id; Python's time module does not name it
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def call_started() -> int:
    """Now, on the clock the kernel stamps files with (a coarse one: ``time.time_ns()`` can be
    a tick ahead of a file created after it)."""
    if sys.platform.startswith("linux"):
        return time.clock_gettime_ns(_CLOCK_REALTIME_COARSE)
    return time.time_ns() - 20_000_000


def made_during_call(info: os.stat_result, since_ns: int) -> bool:
    """A regular file with one link, ours, written after ``since_ns`` (``call_started()``
    before ``to_temp_file()``): a fresh temp file, not an original."""
    return (stat.S_ISREG(info.st_mode) and info.st_nlink == 1 and info.st_uid == os.geteuid()
            and info.st_ctime_ns >= since_ns and info.st_mtime_ns >= since_ns)


def _readable_by_container(fd: int) -> None:
    # The container runs as the host's user unless the host is root: then its group reads.
    if os.getuid() == 0:
        os.fchown(fd, -1, container_user()[1])
        os.fchmod(fd, 0o640)


def _copy(source: Path, target: Path) -> None:
    """Copy ``source`` (the caller's file: its links are the caller's to follow) to a new
    ``target`` that no one else can have opened."""
    with open(source, "rb") as src:
        if not stat.S_ISREG(os.fstat(src.fileno()).st_mode):
            raise OSError(f"{source} is not a regular file")
        fd = os.open(target, _CREATE, 0o600)
        try:
            size = os.fstat(src.fileno()).st_size
            offset = 0
            while offset < size:
                sent = os.sendfile(fd, src.fileno(), offset, size - offset)
                if sent == 0:
                    break
                offset += sent
            _readable_by_container(fd)
        finally:
            os.close(fd)


class PrivateCopies:
    """The host's cache of private copies of callers' originals (``exchange/.private``)."""

    def __init__(self, exchange_root: Path):
        self.folder = exchange_root / PRIVATE

    def copy_of(self, source: Path, info: os.stat_result) -> Path:
        """A private copy of ``source`` (made now, or reused while the original is unchanged)."""
        key = f"{info.st_dev}-{info.st_ino}-{info.st_size}-{info.st_mtime_ns}-{info.st_ctime_ns}"
        cached = self.folder / key
        with contextlib.suppress(OSError):
            os.utime(cached, follow_symlinks=False)   # its use time, for the cache's pruning
            return cached
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.prune()
        partial = self.folder / f".{key}.{uuid.uuid4().hex[:8]}.part"
        try:
            _copy(source, partial)
            os.replace(partial, cached)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return cached

    def prune(self) -> None:
        """Delete the copies unused for ``PRIVATE_TTL_S`` (the ones linked into a container's
        folder live on there until the call ends)."""
        cutoff = time.time() - PRIVATE_TTL_S
        with contextlib.suppress(OSError), os.scandir(self.folder) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):
                    if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                        os.unlink(entry.path)


def place(source: Path, since_ns: int, folder: Path, exchange_root: Path) -> Path:
    """Put a private file with ``source``'s content into ``folder``; returns its path there.

    Args:
        source: the file ``to_temp_file()`` returned.
        since_ns: ``call_started()`` just before ``to_temp_file()`` was called.
        folder: the container's exchange folder (the host's, read-only inside).
        exchange_root: the data dir's exchange folder (home of the private cache).
    """
    info = os.lstat(source)
    target = folder / f"{uuid.uuid4().hex}-{source.name}"
    if made_during_call(info, since_ns):
        try:
            os.link(source, target, follow_symlinks=False)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
        else:
            try:   # the fresh temp file: let the container read it
                fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
                try:
                    if os.fstat(fd).st_ino != info.st_ino:
                        raise OSError(f"{source} changed while it was handed over")
                    _readable_by_container(fd)
                finally:
                    os.close(fd)
            except BaseException:
                target.unlink(missing_ok=True)
                raise
            return target
    # An original, or a temp file on another filesystem: a private copy, linked.
    os.link(PrivateCopies(exchange_root).copy_of(source, os.stat(source)), target,
            follow_symlinks=False)
    return target
