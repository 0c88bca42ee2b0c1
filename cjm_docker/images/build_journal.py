"""Journals of classic builds: which intermediate containers a build's engine made, and for whom.

The classic builder runs each Dockerfile step in an intermediate container that carries the
labels of the image so far (``io.cjm.managed``, a role) but no owner: nothing on the container
says which process's build it belongs to, or whether that build still runs. The engine removes
them itself (``forcerm``) unless it cannot finish the build's clean-up (the engine restarted,
a removal failed), and then they stay, exited, for good.

So each build keeps a journal in the state dir (``builds/``) while it runs: its owner (host,
pid and start time, as on every helper container), the engine, and each intermediate
container's id as the builder names it. A build that ends with the engine's own verdict (an
image, or a failing step) drops its journal; a killed or interrupted one leaves it, and
`cjm-ctl gc` removes the containers it names once that owner is dead, then the journal
(``host/reaper.py``). A container is only ever judged by a journal of this machine's own
process, on the same engine, and never while it runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from cjm_docker.engine import Engine
from cjm_docker.errors import BuildError
from cjm_docker.images.state import state_dir
from cjm_docker.owner import current_owner, owner_alive

JOURNALS = "builds"


def journals_dir() -> Path:
    return state_dir() / JOURNALS


class BuildJournal:
    """One build's journal file (appended as the builder names containers; no-op when the state
    dir cannot be written: bookkeeping never fails a build)."""

    def __init__(self, engine_endpoint: str) -> None:
        owner = current_owner()
        self.path: Path | None = journals_dir() / f"{owner.pid}-{secrets.token_hex(4)}.journal"
        self._fd: int | None = None
        header = json.dumps({"owner": owner.labels(), "engine": engine_endpoint})
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.write(self._fd, f"{header}\n".encode())
        except OSError:
            self.close(drop=True)

    def add(self, container_id: str) -> None:
        """Note a container the builder made (one write, so a kill right after keeps it)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.write(self._fd, f"{container_id}\n".encode())

    def close(self, *, drop: bool) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if drop and self.path is not None:
            self.path.unlink(missing_ok=True)
            self.path = None


def journaled_build(engine: Engine, context: IO[bytes], **build: Any) -> str:
    """``engine.build`` with its intermediate containers journaled while it runs."""
    journal = BuildJournal(engine.endpoint)
    ended = False
    try:
        image_id = engine.build(context, on_container=journal.add, **build)
        ended = True
        return image_id
    except BuildError:
        ended = True    # the engine's verdict: it removed the step containers itself
        raise
    finally:
        journal.close(drop=ended)


@dataclass(frozen=True)
class JournalEntry:
    """A journal as gc reads it."""

    path: Path
    owner: dict[str, str]
    engine: str
    containers: tuple[str, ...]

    def names(self, container_id: str) -> bool:
        return any(container_id.startswith(short) for short in self.containers)


def read_journals() -> Iterator[JournalEntry]:
    """Every journal in the state dir (unreadable ones are skipped)."""
    folder = journals_dir()
    for path in sorted(folder.glob("*.journal")) if folder.is_dir() else []:
        try:
            header, *ids = path.read_text().splitlines()
            doc = json.loads(header)
            yield JournalEntry(path, {str(k): str(v) for k, v in doc["owner"].items()},
                               str(doc["engine"]), tuple(i for i in ids if _is_id(i)))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue


def abandoned_journals(engine_endpoint: str) -> list[JournalEntry]:
    """Journals of builds on this engine whose process on this machine is dead."""
    return [j for j in read_journals()
            if j.engine == engine_endpoint and owner_alive(j.owner) is False]


def _is_id(text: str) -> bool:
    return 12 <= len(text) <= 64 and all(c in "0123456789abcdef" for c in text)
