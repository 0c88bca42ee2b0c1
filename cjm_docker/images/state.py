"""This machine's cjm-docker state, which `cjm-ctl gc` reads (``$CJM_STATE_DIR``, by default
``~/.local/state/cjm-docker``):

    data-dirs.txt   every data dir whose install wrote a manifest (``gc --images`` keeps the
                    images those manifests name): one line each, sorted and unique, and pruned
                    of the dirs that no longer hold any manifest, whenever it is written or read
    builds/         a journal per classic build under way (``build_journal``)

Writers take a lock, so two installs that finish together both stay recorded.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from cjm_docker import envvars

try:
    import fcntl
except ImportError:  # pragma: no cover - not a POSIX system: writers are not serialised
    fcntl = None  # type: ignore[assignment]

DATA_DIRS_FILE = "data-dirs.txt"


def state_dir() -> Path:
    """``$CJM_STATE_DIR``, else ~/.local/state/cjm-docker."""
    root = os.environ.get(envvars.STATE_DIR)
    return Path(root) if root else Path.home() / ".local" / "state" / "cjm-docker"


def data_dirs_file() -> Path:
    return state_dir() / DATA_DIRS_FILE


def holds_manifests(data_dir: Path) -> bool:
    """True while ``data_dir`` has a manifest whose images gc must keep."""
    folder = data_dir / "manifests"
    return folder.is_dir() and next(folder.glob("*.json"), None) is not None


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold ``path``'s lock file (made when missing) for a read-modify-write of ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "a") as lock:
        if fcntl is not None:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        yield   # closing the file drops the lock


def _read(path: Path) -> list[str]:
    try:
        return [line.strip() for line in path.read_text().splitlines() if line.strip()]
    except OSError:
        return []


def _rewrite(path: Path, known: list[str], add: Iterable[Path] = ()) -> list[Path]:
    """The recorded dirs that still hold manifests, plus ``add``; written back when that
    changes the file (sorted, unique, each resolved once)."""
    kept = sorted({*(Path(d).resolve() for d in known if holds_manifests(Path(d))),
                   *(Path(d).resolve() for d in add)})
    lines = [str(d) for d in kept]
    if lines != known:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text("".join(f"{line}\n" for line in lines))
        os.replace(tmp, path)
    return kept


def record_data_dir(data_dir: Path) -> None:
    """Remember ``data_dir`` (its install just wrote a manifest), pruning the file as it goes."""
    path = data_dirs_file()
    try:
        with _locked(path):
            _rewrite(path, _read(path), add=[data_dir])
    except OSError:
        return  # a read-only home: gc then knows the current and the named data dirs only


def recorded_data_dirs() -> list[Path]:
    """The recorded data dirs that still hold manifests (the file is pruned to them)."""
    path = data_dirs_file()
    known = _read(path)
    if not known:
        return []
    try:
        with _locked(path):
            return _rewrite(path, _read(path))
    except OSError:
        return sorted({Path(d).resolve() for d in known if holds_manifests(Path(d))})
