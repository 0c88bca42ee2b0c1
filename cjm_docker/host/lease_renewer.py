"""The lease renewer: a small process of its own that renews the leases of one host process.

    python -m cjm_docker.host.lease_renewer HOST_PID INTERVAL

The host writes one line per change on the renewer's stdin: ``add CONTAINER_ID FOLDER`` or
``drop FOLDER`` (fields separated by tabs). Every ``INTERVAL`` seconds the renewer touches each ``FOLDER/lease`` (through a
descriptor, no link followed) and measures ``FOLDER/run``, the part the container writes: past
``RUN_FOLDER_CAP`` the container is stopped and ``FOLDER/stopped`` says why.

Being a process of its own, it keeps renewing while the host is busy holding the interpreter
lock or is suspended. When the host dies (even by SIGKILL) its end of the pipe closes: the
renewer then stops the host's containers itself and exits. That does not rely on the worker's
own lease watcher, which runs in the plugin's process and which a plugin could switch off.
Standard library only until a container must be stopped (the engine is imported then).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import stat
import sys
import threading
import time
from pathlib import Path

from cjm_docker.host.runtime_folder import RUN, RUN_FOLDER_CAP, STOPPED
from cjm_docker.wire import LEASE_NAME

STOP_GRACE_S = 3


def renew(folder: Path) -> bool:
    """Touch ``folder/lease``; False when it is gone (the container was removed)."""
    try:
        fd = os.open(folder / LEASE_NAME, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        os.utime(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
    return True


def run_folder_bytes(folder: Path) -> int:
    """What ``folder/run`` holds (links and odd entries count as their own size, never followed)."""
    total = 0
    with contextlib.suppress(OSError), os.scandir(folder / RUN) as entries:
        for entry in entries:
            with contextlib.suppress(OSError):
                info = entry.stat(follow_symlinks=False)
                total += info.st_size if stat.S_ISREG(info.st_mode) else 0
                if stat.S_ISDIR(info.st_mode):
                    total += RUN_FOLDER_CAP   # the worker makes no folder there
    return total


def _say_stopped(folder: Path, reason: str) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder / STOPPED, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "w") as fh:
            fh.write(reason)


def stop_containers(container_ids: list[str], *, kill: bool = False) -> None:
    """Stop (or kill) and remove containers, in parallel; errors are ignored (best effort)."""
    container_ids = [c for c in container_ids if c]
    if not container_ids:
        return
    from cjm_docker.engine import Engine  # only now: the renewer starts fast and small

    engine = Engine()

    def stop(container_id: str) -> None:
        with contextlib.suppress(Exception):
            if not kill:
                engine.stop_container(container_id, timeout=STOP_GRACE_S)
            engine.remove_container(container_id, force=True)

    threads = [threading.Thread(target=stop, args=(cid,)) for cid in container_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=STOP_GRACE_S + 30)


class Renewer:
    """The renewer's state: the containers of its host, by runtime folder."""

    def __init__(self, host_pid: int, interval: float):
        self.host_pid = host_pid
        self.interval = interval
        self.containers: dict[Path, str] = {}

    def command(self, line: str) -> None:
        parts = line.rstrip("\r").split("\t")
        if len(parts) == 3 and parts[0] == "add":
            folder = Path(parts[2])
            self.containers[folder] = parts[1]
            renew(folder)
        elif len(parts) == 2 and parts[0] == "drop":
            self.containers.pop(Path(parts[1]), None)

    def tick(self) -> None:
        over = []
        for folder, container_id in list(self.containers.items()):
            if not renew(folder):
                self.containers.pop(folder, None)
                continue
            used = run_folder_bytes(folder)
            if used > RUN_FOLDER_CAP:
                _say_stopped(folder, f"it wrote {used / 2**20:.1f} MiB into its runtime folder, "
                                     f"past the cap of {RUN_FOLDER_CAP / 2**20:.0f} MiB")
                self.containers.pop(folder, None)
                over.append(container_id)
        if over:
            stop_containers(over, kill=True)

    def host_gone(self) -> bool:
        return os.getppid() != self.host_pid

    def serve(self, commands) -> None:
        """Renew until the host's pipe closes or the host is gone; then stop its containers."""
        fd = commands.fileno()
        buffered = b""
        next_tick = time.monotonic()
        while True:
            wait = max(0.0, next_tick - time.monotonic())
            ready, _, _ = select.select([fd], [], [], wait)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                buffered += chunk
                *lines, buffered = buffered.split(b"\n")
                for line in lines:
                    self.command(line.decode("utf-8", "replace"))
            if time.monotonic() >= next_tick:
                if self.host_gone():
                    break
                self.tick()
                next_tick = time.monotonic() + self.interval
        stop_containers(list(self.containers.values()))


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m cjm_docker.host.lease_renewer HOST_PID INTERVAL", file=sys.stderr)
        return 2
    # Ctrl-C in the host's terminal is the host's business: this process outlives it only to
    # stop what the host leaves running.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    Renewer(int(argv[0]), float(argv[1])).serve(sys.stdin)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
