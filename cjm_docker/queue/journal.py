"""The job journal: every job in SQLite, so pending jobs resume and results outlive the host.

One file per queue (``<data_dir>/jobs.sqlite3`` by default), in WAL mode with
``synchronous=NORMAL``: a commit is a write to the OS page cache (about 20 us), which survives
the host process being killed (not a power cut). One writer thread owns the connection and
commits whatever has queued up in one transaction (group commit), so the event loop never waits
on SQLite and a burst of jobs costs one commit, not one each. Sync point reads (``get``) use a
second, read-only connection: WAL readers never wait for the writer.

A lock file held with ``flock`` keeps a second live queue off the same journal (two hosts
would run the same pending jobs twice); the kernel drops the lock when the holder dies, even by
SIGKILL.

Terminal jobs are kept up to ``history_limit`` (the oldest finished are deleted first).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path, PurePath
from typing import Any

from cjm_docker.errors import JournalError
from cjm_docker.queue.job import Job, JobStatus

try:  # Unix; elsewhere a second queue on the same journal is not detected
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
MAX_BATCH = 512
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id               TEXT PRIMARY KEY,
    seq              INTEGER NOT NULL,
    plugin           TEXT NOT NULL,
    args             TEXT NOT NULL,
    kwargs           TEXT NOT NULL,
    resumable        INTEGER NOT NULL,
    priority         INTEGER NOT NULL,
    status           TEXT NOT NULL,
    created_at       REAL NOT NULL,
    started_at       REAL,
    completed_at     REAL,
    result           TEXT,
    error            TEXT,
    error_type       TEXT,
    logs             TEXT,
    retry_on_restart INTEGER NOT NULL DEFAULT 0,
    attempts         INTEGER NOT NULL DEFAULT 0,
    finish_seq       INTEGER
);
CREATE INDEX IF NOT EXISTS jobs_unfinished ON jobs(status, seq);
CREATE INDEX IF NOT EXISTS jobs_finished ON jobs(finish_seq);
"""
_COLUMNS = ("id, seq, plugin, args, kwargs, resumable, priority, status, created_at, started_at, "
            "completed_at, result, error, error_type, retry_on_restart, attempts")


# -- values <-> JSON ------------------------------------------------------------------------

class _NotJournalable(Exception):
    pass


def _tag(value: Any) -> Any:
    if isinstance(value, PurePath):
        return {"$path": str(value)}
    raise _NotJournalable(type(value).__qualname__)


def _untag(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and "$path" in obj:
        return Path(obj["$path"])
    return obj


def encode_call(args: tuple, kwargs: dict[str, Any]) -> tuple[str, str, bool]:
    """JSON for a job's arguments, and whether they can be replayed after a restart.

    Paths survive the round trip; anything JSON cannot hold (a FileBackedDTO, an arbitrary
    object) makes the job run normally now but fail with a clear reason if it must resume.
    """
    try:
        return (json.dumps(list(args), default=_tag), json.dumps(kwargs, default=_tag), True)
    except (_NotJournalable, TypeError, ValueError) as exc:
        note = json.dumps({"$unjournaled": str(exc)})
        return note, "{}", False


def decode_call(args: str, kwargs: str) -> tuple[tuple, dict[str, Any]]:
    return tuple(json.loads(args, object_hook=_untag)), json.loads(kwargs, object_hook=_untag)


def encode_value(value: Any) -> str | None:
    """A result as JSON (anything JSON cannot hold is stored as its ``repr``)."""
    if value is None:
        return None
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return json.dumps({"$repr": repr(value)})


def decode_value(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def job_from_row(row: tuple) -> Job:
    (job_id, seq, plugin, args, kwargs, resumable, priority, status, created_at, started_at,
     completed_at, result, error, error_type, retry, attempts) = row
    if resumable:
        call_args, call_kwargs = decode_call(args, kwargs)
    else:
        call_args, call_kwargs = (), {}
    return Job(id=job_id, plugin_name=plugin, args=call_args, kwargs=call_kwargs,
               status=JobStatus(status), priority=priority, created_at=created_at,
               started_at=started_at, completed_at=completed_at, result=decode_value(result),
               error=error, progress=1.0 if status == JobStatus.COMPLETED.value else 0.0,
               sequence=seq, error_type=error_type, retry_on_restart=bool(retry),
               attempts=attempts)


# -- the journal ----------------------------------------------------------------------------

class _Op:
    __slots__ = ("fn", "future", "loop", "result", "error")

    def __init__(self, fn: Callable[[sqlite3.Connection], Any],
                 future: asyncio.Future | None, loop: asyncio.AbstractEventLoop | None):
        self.fn = fn
        self.future = future
        self.loop = loop
        self.result: Any = None
        self.error: BaseException | None = None


_STOP = object()


class JobJournal:
    """SQLite journal of jobs with a group-committing writer thread.

    Args:
        path: the SQLite file (its folder is created).
        history_limit: terminal jobs kept on disk (None: all).
        max_log_bytes: a job's stored log is cut to its last this many bytes.
    """

    def __init__(self, path: str | os.PathLike[str], *, history_limit: int | None = 1000,
                 max_log_bytes: int = 1 << 20):
        self.path = Path(path)
        self.history_limit = history_limit
        self.max_log_bytes = max_log_bytes
        self.failure: JournalError | None = None
        self._lock_fh = self._acquire_lock()
        try:
            self._conn = self._connect()
            self._init_schema()
            self._finish_counter = self._conn.execute(
                "SELECT COALESCE(MAX(finish_seq), 0) FROM jobs").fetchone()[0]
        except sqlite3.Error as exc:
            self._release_lock()
            raise JournalError(f"Cannot open the job journal {self.path}: {exc}",
                               path=str(self.path)) from exc
        self._reader: sqlite3.Connection | None = None
        self._reader_lock = threading.Lock()
        self._ops: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False

    # -- opening ----------------------------------------------------------------------------

    def _acquire_lock(self) -> Any:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        fh = open(lock_path, "a+")  # noqa: SIM115 - held for the journal's lifetime
        if fcntl is not None:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                fh.seek(0)
                holder = fh.read().strip() or "another process"
                fh.close()
                raise JournalError(
                    f"The job journal {self.path} is in use by a live queue ({holder}).",
                    path=str(self.path),
                    hint="Stop that queue first, or give this one its own journal_path.") from exc
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}\n")
        fh.flush()
        return fh

    def _release_lock(self) -> None:
        if self._lock_fh is not None:
            self._lock_fh.close()  # closing the descriptor drops the flock
            self._lock_fh = None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def _init_schema(self) -> None:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise JournalError(f"The job journal {self.path} has schema {version}; this "
                               f"cjm-docker reads up to {SCHEMA_VERSION}.", path=str(self.path),
                               hint="Upgrade cjm-docker, or use another journal_path.")
        self._conn.executescript(_SCHEMA)
        self._conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    # -- recovery (synchronous, before the writer starts) -------------------------------------

    def max_sequence(self) -> int:
        return self._conn.execute("SELECT COALESCE(MAX(seq), 0) FROM jobs").fetchone()[0]

    def unfinished(self) -> list[tuple[Job, bool]]:
        """Jobs journaled as pending or running, by sequence, each with its resumable flag."""
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM jobs WHERE status IN (?, ?) ORDER BY seq",
            (JobStatus.PENDING.value, JobStatus.RUNNING.value)).fetchall()
        return [(job_from_row(row), bool(row[5])) for row in rows]

    def recent_finished(self, limit: int) -> list[Job]:
        """The ``limit`` most recently finished jobs, oldest first."""
        if limit <= 0:
            return []
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM jobs WHERE finish_seq IS NOT NULL "
            "ORDER BY finish_seq DESC LIMIT ?", (limit,)).fetchall()
        return [job_from_row(row) for row in reversed(rows)]

    # -- the writer thread --------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="cjm-job-journal",
                                            daemon=True)
            self._thread.start()

    def _serve(self) -> None:
        while True:
            first = self._ops.get()
            if first is _STOP:
                return
            batch: list[_Op] = [first]
            stop = False
            while len(batch) < MAX_BATCH:
                try:
                    item = self._ops.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
            self._run_batch(batch)
            if stop:
                return

    def _run_batch(self, batch: list[_Op]) -> None:
        if self.failure is not None:
            for op in batch:
                op.error = self.failure
        else:
            try:
                self._conn.execute("BEGIN")
                for op in batch:
                    try:
                        op.result = op.fn(self._conn)
                    except sqlite3.Error as exc:
                        op.error = JournalError(f"Job journal write failed: {exc}",
                                               path=str(self.path))
                self._prune()
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                # The disk is full or the file is gone: refuse everything from now on, loudly.
                self.failure = JournalError(
                    f"The job journal {self.path} failed to commit: {exc}", path=str(self.path),
                    hint="Free disk space or fix the file, then restart the host.")
                log.error("%s", self.failure)
                try:
                    self._conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                for op in batch:
                    op.error = self.failure
        by_loop: dict[asyncio.AbstractEventLoop, list[_Op]] = {}
        for op in batch:
            if op.loop is not None:
                by_loop.setdefault(op.loop, []).append(op)
            elif op.error is not None and op.future is None:
                log.error("Job journal write failed: %s", op.error)
        for loop, ops in by_loop.items():
            try:
                loop.call_soon_threadsafe(_resolve, ops)
            except RuntimeError:  # that loop is closed: nobody waits any more
                pass

    def _prune(self) -> None:
        if self.history_limit is None:
            return
        cutoff = self._finish_counter - self.history_limit
        if cutoff > 0:
            self._conn.execute("DELETE FROM jobs WHERE finish_seq IS NOT NULL AND finish_seq <= ?",
                               (cutoff,))

    def submit(self, fn: Callable[[sqlite3.Connection], Any], *,
               wait: bool = True) -> asyncio.Future | None:
        """Queue ``fn(connection)`` for the next commit; the future resolves once committed.

        With ``wait=False`` nothing is returned and a failure is only logged.
        """
        if self._closed:
            raise JournalError(f"The job journal {self.path} is closed.", path=str(self.path))
        if self.failure is not None:
            raise self.failure
        if wait:
            loop = asyncio.get_running_loop()
            future = loop.create_future()
            self._ops.put(_Op(fn, future, loop))
            return future
        self._ops.put(_Op(fn, None, None))
        return None

    # -- operations ---------------------------------------------------------------------------

    def insert(self, job: Job) -> asyncio.Future:
        args, kwargs, resumable = encode_call(job.args, job.kwargs)
        row = (job.id, job.sequence, job.plugin_name, args, kwargs, int(resumable), job.priority,
               job.status.value, job.created_at, int(job.retry_on_restart), job.attempts)
        return self.submit(lambda c: c.execute(
            "INSERT INTO jobs (id, seq, plugin, args, kwargs, resumable, priority, status, "
            "created_at, retry_on_restart, attempts) VALUES (?,?,?,?,?,?,?,?,?,?,?)", row))

    def mark_running(self, job: Job) -> asyncio.Future:
        row = (job.status.value, job.started_at, job.attempts, job.id)
        return self.submit(lambda c: c.execute(
            "UPDATE jobs SET status=?, started_at=?, attempts=? WHERE id=?", row))

    def set_priority(self, job: Job) -> None:
        row = (job.priority, job.id)
        self.submit(lambda c: c.execute("UPDATE jobs SET priority=? WHERE id=?", row), wait=False)

    def _finish_fn(self, job: Job, logs: str | None) -> Callable[[sqlite3.Connection], Any]:
        if logs is not None and len(logs) > self.max_log_bytes:
            logs = logs[-self.max_log_bytes:]
        values = (job.status.value, job.started_at, job.completed_at, encode_value(job.result),
                  job.error, job.error_type, logs, job.attempts, job.id)

        def finish(conn: sqlite3.Connection) -> None:
            self._finish_counter += 1
            conn.execute("UPDATE jobs SET status=?, started_at=?, completed_at=?, result=?, "
                         "error=?, error_type=?, logs=?, attempts=?, finish_seq=? WHERE id=?",
                         (*values[:-1], self._finish_counter, values[-1]))
        return finish

    def finish(self, job: Job, logs: str | None = None) -> asyncio.Future:
        """Record a terminal job (the oldest finished beyond ``history_limit`` are deleted)."""
        return self.submit(self._finish_fn(job, logs))

    def fetch(self, job_id: str) -> asyncio.Future:
        """A job as journaled, after every write queued before this call (None if absent)."""
        return self.submit(lambda c: _fetch(c, job_id))

    # -- synchronous, for recovery and for sync reads ---------------------------------------------

    def write_now(self, fn: Callable[[sqlite3.Connection], Any]) -> None:
        """Run a write before the writer thread starts (recovery)."""
        assert self._thread is None, "write_now is for recovery only"
        with self._conn:
            fn(self._conn)

    def finish_now(self, job: Job, logs: str | None = None) -> None:
        self.write_now(self._finish_fn(job, logs))

    def requeue_now(self, job: Job) -> None:
        row = (JobStatus.PENDING.value, job.id)
        self.write_now(lambda c: c.execute(
            "UPDATE jobs SET status=?, started_at=NULL WHERE id=?", row))

    def _read(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        with self._reader_lock:
            if self._closed:
                return None
            if self._reader is None:
                self._reader = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True,
                                               isolation_level=None, check_same_thread=False)
                self._reader.execute("PRAGMA busy_timeout=1000")
            try:
                return fn(self._reader)
            except sqlite3.Error as exc:
                log.warning("Job journal read failed: %s", exc)
                return None

    def get(self, job_id: str) -> Job | None:
        """A journaled job by id (committed state only); a point read, microseconds."""
        return self._read(lambda c: _fetch(c, job_id))

    def logs(self, job_id: str) -> str | None:
        """A finished job's stored log lines (None if unknown)."""
        row = self._read(lambda c: c.execute("SELECT logs FROM jobs WHERE id=?",
                                             (job_id,)).fetchone())
        return None if row is None else (row[0] or "")

    def count(self, *statuses: JobStatus) -> int:
        """Jobs on disk, optionally only those in ``statuses``."""
        if not statuses:
            return self._read(lambda c: c.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])
        marks = ",".join("?" * len(statuses))
        values = [s.value for s in statuses]
        return self._read(lambda c: c.execute(
            f"SELECT COUNT(*) FROM jobs WHERE status IN ({marks})", values).fetchone()[0])

    # -- closing ------------------------------------------------------------------------------

    def close(self) -> None:
        """Commit what is queued, stop the writer, close the files, drop the lock."""
        if self._closed:
            return
        if self._thread is not None:
            self._ops.put(_STOP)
            self._thread.join()
        self._closed = True
        with self._reader_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
        try:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass
        self._conn.close()
        self._release_lock()


def _fetch(conn: sqlite3.Connection, job_id: str) -> Job | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id=?", (job_id,)).fetchone()
    return None if row is None else job_from_row(row)


def _resolve(ops: list[_Op]) -> None:
    for op in ops:
        future = op.future
        if future is None or future.done():
            continue
        if op.error is not None:
            future.set_exception(op.error)
        else:
            future.set_result(op.result)
