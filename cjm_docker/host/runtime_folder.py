"""A container's runtime folder: its token and lease (host-owned, read-only inside) and ``run/``,
the only part the container may write (its socket and its log).

    <runtime_dir>/<container>/          0711, the host's; never mounted itself
        token                           0400, mounted read-only (the container's user may read)
        lease                           0644, the host's, mounted read-only: the plugin cannot
                                        renew it
        run/                            0700, the container user's, mounted read-write
            worker.sock  worker.log  worker.log.1
        stopped                         why the host stopped the container, when it did

Everything in ``run/`` is the plugin's doing, so the host reads there only through descriptors
opened without following links, only regular files, and only a bounded tail. The token travels
as a file, never through the environment, where ``docker inspect`` would show it.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from cjm_docker import wire

#: The user plugin containers run as when the host itself runs as root.
CONTAINER_UID = 10001
#: The most the host reads of a log file a container can write.
LOG_READ_LIMIT = 256 * 1024
#: What ``run/`` may hold in all: twice the worker's 1 MiB log cap, plus slack.
RUN_FOLDER_CAP = 4 * 1024 * 1024
RUN = "run"
STOPPED = "stopped"
_NOFOLLOW = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | getattr(os, "O_NONBLOCK", 0)


def container_user() -> tuple[int, int]:
    """uid and gid for plugin containers: the host's own, unless the host is root."""
    uid, gid = os.getuid(), os.getgid()
    return (CONTAINER_UID, CONTAINER_UID) if uid == 0 else (uid, gid)


def give_to_container(path: Path) -> None:
    """Make ``path`` belong to the container user (only possible, and needed, as root)."""
    if os.getuid() == 0:
        uid, gid = container_user()
        os.chown(path, uid, gid, follow_symlinks=False)


def read_untrusted(path: Path, start: int | None = None, stop: int | None = None,
                   limit: int = LOG_READ_LIMIT) -> bytes:
    """Bytes ``[start, stop)`` (default: the end) of a regular file a container could have
    planted or swapped, at most the last ``limit`` of them. A link is never followed, a FIFO
    or device never read (b"" then, as for a missing file). A ``start`` past the end (the
    file rotated) reads from the beginning."""
    try:
        fd = os.open(path, _NOFOLLOW)
    except OSError:
        return b""
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return b""
        size = info.st_size
        begin = start if start is not None and start <= size else 0
        end = stop if stop is not None and begin <= stop <= size else size
        begin = max(begin, end - limit)
        return os.pread(fd, end - begin, begin)
    finally:
        os.close(fd)


def untrusted_size(path: Path) -> int:
    """The size of a regular file a container can write (0 for a link, a missing file...)."""
    try:
        info = os.lstat(path)
    except OSError:
        return 0
    return info.st_size if stat.S_ISREG(info.st_mode) else 0


@dataclass(frozen=True)
class RuntimeFolder:
    """Paths inside one container's runtime folder."""

    path: Path

    @property
    def run(self) -> Path:
        return self.path / RUN

    @property
    def socket(self) -> Path:
        return self.run / wire.SOCKET_NAME

    @property
    def token_file(self) -> Path:
        return self.path / wire.TOKEN_NAME

    @property
    def lease_file(self) -> Path:
        return self.path / wire.LEASE_NAME

    @property
    def log_file(self) -> Path:
        return self.run / wire.LOG_NAME

    @property
    def stopped_file(self) -> Path:
        return self.path / STOPPED

    @classmethod
    def create(cls, base: Path, name: str) -> tuple[RuntimeFolder, str]:
        """Create the folder with a fresh token; returns it and the token."""
        base.mkdir(parents=True, exist_ok=True)
        os.chmod(base, 0o711)  # others may traverse to their own folder, never list
        folder = cls(base / name)
        folder.path.mkdir(mode=0o711)
        token = secrets.token_urlsafe(32)
        fd = os.open(folder.token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                     0o400)
        with os.fdopen(fd, "w") as fh:
            fh.write(token)
        os.close(os.open(folder.lease_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                         0o644))
        folder.run.mkdir(mode=0o700)
        for path in (folder.token_file, folder.run):
            give_to_container(path)
        return folder, token

    def read_only_files(self) -> tuple[Path, ...]:
        """The files mounted read-only, one by one, at their own path."""
        return (self.token_file, self.lease_file)

    def log_tail(self, lines: int = 40) -> str:
        """The last lines the worker wrote to its log file ("" when there is none)."""
        data = b"".join(read_untrusted(p) for p in
                        (self.log_file.with_name(self.log_file.name + ".1"), self.log_file))
        text = data.decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop_reason(self) -> str | None:
        """Why the host's lease renewer stopped the container, when it did."""
        try:
            text = self.stopped_file.read_text().strip()
        except OSError:
            return None
        return text or None

    def remove(self) -> None:
        """Delete the folder and everything in it (``rmtree`` works on descriptors: a link
        planted in ``run/`` is removed, never followed)."""
        shutil.rmtree(self.path, ignore_errors=True)
