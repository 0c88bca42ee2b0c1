"""A container's runtime folder: its socket, token, lease and log, bind-mounted at the same path.

The folder is private to one container (mode 0700, owned by the container's user) so no other
plugin can reach its socket or read its token; the token travels as a file, never through the
environment, where ``docker inspect`` would show it.
"""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from cjm_docker import wire

#: The user plugin containers run as when the host itself runs as root.
CONTAINER_UID = 10001


def container_user() -> tuple[int, int]:
    """uid and gid for plugin containers: the host's own, unless the host is root."""
    uid, gid = os.getuid(), os.getgid()
    return (CONTAINER_UID, CONTAINER_UID) if uid == 0 else (uid, gid)


def give_to_container(path: Path) -> None:
    """Make ``path`` belong to the container user (only possible, and needed, as root)."""
    if os.getuid() == 0:
        uid, gid = container_user()
        os.chown(path, uid, gid)


@dataclass(frozen=True)
class RuntimeFolder:
    """Paths inside one container's runtime folder."""

    path: Path

    @property
    def socket(self) -> Path:
        return self.path / wire.SOCKET_NAME

    @property
    def token_file(self) -> Path:
        return self.path / wire.TOKEN_NAME

    @property
    def lease_file(self) -> Path:
        return self.path / wire.LEASE_NAME

    @property
    def log_file(self) -> Path:
        return self.path / wire.LOG_NAME

    @classmethod
    def create(cls, base: Path, name: str) -> tuple[RuntimeFolder, str]:
        """Create the folder with a fresh token; returns it and the token."""
        base.mkdir(parents=True, exist_ok=True)
        os.chmod(base, 0o711)  # others may traverse to their own folder, never list
        folder = cls(base / name)
        folder.path.mkdir(mode=0o700)
        token = secrets.token_urlsafe(32)
        fd = os.open(folder.token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
        with os.fdopen(fd, "w") as fh:
            fh.write(token)
        folder.lease_file.touch()
        for path in (folder.path, folder.token_file, folder.lease_file):
            give_to_container(path)
        return folder, token

    def log_tail(self, lines: int = 40) -> str:
        """The last lines the worker wrote to its log file ("" when there is none)."""
        text = ""
        for candidate in (self.log_file.with_name(self.log_file.name + ".1"), self.log_file):
            try:
                text += candidate.read_text(errors="replace")
            except OSError:
                continue
        return "\n".join(text.splitlines()[-lines:])

    def remove(self) -> None:
        """Delete the folder and everything in it."""
        shutil.rmtree(self.path, ignore_errors=True)
