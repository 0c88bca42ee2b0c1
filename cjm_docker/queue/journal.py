"""The job journal: every job in SQLite, so pending jobs resume and results outlive the host.

One file per queue (``<data_dir>/jobs.sqlite3`` by default), in WAL mode with
``synchronous=NORMAL``: a commit is a write to the OS page cache (about 20 us) that survives the
host process being killed (not a power cut). Writes are group-committed once per event-loop
iteration on one persistent connection; see ``JobJournal``.

A lock file held with ``flock`` keeps a second live queue off the same journal (two hosts
would run the same pending jobs twice); the kernel drops the lock when the holder dies, even by
SIGKILL.

Terminal jobs are kept up to ``history_limit`` (the oldest finished are deleted first).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cjm_docker.codec import decode_call, decode_value, encode_call, encode_value
from cjm_docker.errors import JournalError, JournalRowError
from cjm_docker.queue.job import Job, JobStatus

try:  # Unix; elsewhere a second queue on the same journal is not detected
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
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


def job_from_row(row: tuple) -> Job:
    return _job_and_problem(row)[0]


def _job_and_problem(row: tuple) -> tuple[Job, str | None]:
    """The job in a row, and why it cannot be replayed (None: it can)."""
    (job_id, seq, plugin, args, kwargs, resumable, priority, status, created_at, started_at,
     completed_at, result, error, error_type, retry, attempts) = row
    call_args: tuple = ()
    call_kwargs: dict[str, Any] = {}
    problem: str | None = None
    if not resumable:
        problem = _unjournaled_reason(args)
    else:
        try:
            call_args, call_kwargs = decode_call(args, kwargs)
        except JournalRowError as exc:  # one bad row must not keep the queue from starting
            problem = exc.message
    job = Job(id=job_id, plugin_name=plugin, args=call_args, kwargs=call_kwargs,
               status=JobStatus(status), priority=priority, created_at=created_at,
               started_at=started_at, completed_at=completed_at, result=decode_value(result),
               error=error, progress=1.0 if status == JobStatus.COMPLETED.value else 0.0,
               sequence=seq, error_type=error_type, retry_on_restart=bool(retry),
               attempts=attempts)
    return job, problem


def _unjournaled_reason(args: str) -> str:
    try:
        return f"arguments were not JSON: {json.loads(args)['$unjournaled']}"
    except (ValueError, TypeError, KeyError):
        return "arguments were not JSON"


# -- the journal ----------------------------------------------------------------------------

class _Op:
    __slots__ = ("fn", "future", "result", "error")

    def __init__(self, fn: Callable[[sqlite3.Connection], Any], future: asyncio.Future | None):
        self.fn = fn
        self.future = future
        self.result: Any = None
        self.error: BaseException | None = None


class JobJournal:
    """SQLite journal of jobs, written by group commit at the end of each loop iteration.

    Writes queued during one pass of the event loop are committed together in one transaction
    by a callback scheduled with ``call_soon``: no thread hop on the hot path (on a busy
    two-core machine each hop costs a context switch), and the commit itself is a write to the
    page cache. The only slow SQLite operation, the checkpoint that copies the WAL into the
    database file and fsyncs it, is taken off the loop: automatic checkpoints are disabled and a
    background thread runs a passive one every ``checkpoint_every`` commits.

    Args:
        path: the SQLite file (its folder is created).
        history_limit: terminal jobs kept on disk (None: all).
        max_log_bytes: a job's stored log is cut to its last this many bytes.
        checkpoint_every: commits between background checkpoints.
    """

    def __init__(self, path: str | os.PathLike[str], *, history_limit: int | None = 1000,
                 max_log_bytes: int = 1 << 20, checkpoint_every: int = 256):
        self.path = Path(path)
        self.history_limit = history_limit
        self.max_log_bytes = max_log_bytes
        self.checkpoint_every = checkpoint_every
        self.failure: JournalError | None = None
        self.commits = 0
        self._lock_fh = self._acquire_lock()
        try:
            self._conn = self._connect()
            self._init_schema()
            self._finish_counter = self._conn.execute(
                "SELECT COALESCE(MAX(finish_seq), 0) FROM jobs").fetchone()[0]
            self._pruned_upto = 0
        except sqlite3.Error as exc:
            self._release_lock()
            raise JournalError(f"Cannot open the job journal {self.path}: {exc}",
                               path=str(self.path)) from exc
        self._conn_lock = threading.RLock()  # sync reads may come from other threads
        self._queued: list[_Op] = []
        self._flush_loop: asyncio.AbstractEventLoop | None = None
        self._since_checkpoint = 0
        self._checkpointer: threading.Thread | None = None
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

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
        conn.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints run in a thread, see above
        return conn

    def _init_schema(self) -> None:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise JournalError(f"The job journal {self.path} has schema {version}; this "
                               f"cjm-docker reads up to {SCHEMA_VERSION}.", path=str(self.path),
                               hint="Upgrade cjm-docker, or use another journal_path.")
        self._conn.executescript(_SCHEMA)
        self._conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    # -- recovery -------------------------------------------------------------------------------

    def max_sequence(self) -> int:
        with self._conn_lock:
            return self._conn.execute("SELECT COALESCE(MAX(seq), 0) FROM jobs").fetchone()[0]

    def unfinished(self) -> list[tuple[Job, str | None]]:
        """Jobs journaled as pending or running, by sequence, each with the reason it cannot
        be replayed (None: it can; its arguments were journaled and read back)."""
        with self._conn_lock:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM jobs WHERE status IN (?, ?) ORDER BY seq",
                (JobStatus.PENDING.value, JobStatus.RUNNING.value)).fetchall()
        return [_job_and_problem(row) for row in rows]

    def recent_finished(self, limit: int) -> list[Job]:
        """The ``limit`` most recently finished jobs, oldest first."""
        if limit <= 0:
            return []
        with self._conn_lock:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM jobs WHERE finish_seq IS NOT NULL "
                "ORDER BY finish_seq DESC LIMIT ?", (limit,)).fetchall()
        return [job_from_row(row) for row in reversed(rows)]

    # -- group commit ---------------------------------------------------------------------------

    def submit(self, fn: Callable[[sqlite3.Connection], Any], *,
               wait: bool = True) -> asyncio.Future | None:
        """Queue ``fn(connection)`` for this loop iteration's commit.

        With ``wait`` the returned future resolves once committed (or fails with
        ``JournalError``); without, a failure is only logged. Outside an event loop the write is
        committed at once and None is returned.

        Raises:
            JournalError: the journal is closed or has failed before.
        """
        if self._closed:
            raise JournalError(f"The job journal {self.path} is closed.", path=str(self.path))
        if self.failure is not None:
            raise self.failure
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:
            self._queued.append(_Op(fn, None))
            self.flush()
            return None
        future = loop.create_future() if wait else None
        self._queued.append(_Op(fn, future))
        if self._flush_loop is not loop:  # none scheduled on this loop yet (or on a dead one)
            self._flush_loop = loop
            loop.call_soon(self.flush)
        return future

    def flush(self) -> None:
        """Commit every queued write in one transaction and resolve their futures."""
        self._flush_loop = None
        batch, self._queued = self._queued, []
        if not batch:
            return
        with self._conn_lock:
            self._run_batch(batch)
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        for op in batch:
            if op.future is None:
                if op.error is not None:
                    log.error("Job journal write failed: %s", op.error)
            elif op.future.get_loop() is here:
                _settle(op)
            else:  # flushed from another thread (close() during a stop): hand it over
                with contextlib.suppress(RuntimeError):
                    op.future.get_loop().call_soon_threadsafe(_settle, op)
        self._maybe_checkpoint()

    def _run_batch(self, batch: list[_Op]) -> None:
        if self.failure is not None:
            for op in batch:
                op.error = self.failure
            return
        try:
            # One statement commits by itself (autocommit); more share one transaction.
            single = len(batch) == 1 and not self._prune_due()
            if not single:
                self._conn.execute("BEGIN")
            for op in batch:
                try:
                    op.result = op.fn(self._conn)
                except sqlite3.Error as exc:
                    op.error = JournalError(f"Job journal write failed: {exc}",
                                           path=str(self.path))
                except Exception as exc:  # noqa: BLE001 - one bad write must not lose the rest
                    op.error = exc
            if not single:
                self._prune()
                self._conn.execute("COMMIT")
            self.commits += 1
            self._since_checkpoint += 1
        except sqlite3.Error as exc:
            # The disk is full or the file is gone: refuse everything from now on, loudly.
            self.failure = JournalError(
                f"The job journal {self.path} failed to commit: {exc}", path=str(self.path),
                hint="Free disk space or fix the file, then restart the host.")
            log.error("%s", self.failure)
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")
            for op in batch:
                op.error = self.failure

    def _prune_due(self) -> bool:
        """Whether a finish since the last prune pushed the oldest beyond ``history_limit``
        (finishes are counted, so this is a comparison, not a query)."""
        return self.history_limit is not None and \
            self._finish_counter + 1 - self.history_limit > self._pruned_upto

    def _prune(self) -> None:
        if self.history_limit is None:
            return
        cutoff = self._finish_counter - self.history_limit
        if cutoff > self._pruned_upto:
            self._conn.execute("DELETE FROM jobs WHERE finish_seq IS NOT NULL AND finish_seq <= ?",
                               (cutoff,))
            self._pruned_upto = cutoff

    def _maybe_checkpoint(self) -> None:
        if self._since_checkpoint < self.checkpoint_every:
            return
        if self._checkpointer is not None and self._checkpointer.is_alive():
            return
        self._since_checkpoint = 0
        self._checkpointer = threading.Thread(target=self._checkpoint, args=("PASSIVE",),
                                              name="cjm-journal-checkpoint", daemon=True)
        self._checkpointer.start()

    def _checkpoint(self, mode: str) -> None:
        """Copy the WAL into the database (own connection: never waits on the loop's)."""
        try:
            conn = sqlite3.connect(self.path, isolation_level=None)
            try:
                conn.execute("PRAGMA busy_timeout=5000")
                conn.execute(f"PRAGMA wal_checkpoint({mode})")
            finally:
                conn.close()
        except sqlite3.Error as exc:
            log.warning("Job journal checkpoint failed: %s", exc)

    # -- operations ---------------------------------------------------------------------------

    def insert(self, job: Job) -> asyncio.Future | None:
        args, kwargs, resumable = encode_call(job.args, job.kwargs)
        row = (job.id, job.sequence, job.plugin_name, args, kwargs, int(resumable), job.priority,
               job.status.value, job.created_at, int(job.retry_on_restart), job.attempts)
        return self.submit(lambda c: c.execute(
            "INSERT INTO jobs (id, seq, plugin, args, kwargs, resumable, priority, status, "
            "created_at, retry_on_restart, attempts) VALUES (?,?,?,?,?,?,?,?,?,?,?)", row))

    def mark_running(self, job: Job) -> asyncio.Future | None:
        row = (job.status.value, job.started_at, job.attempts, job.id)
        return self.submit(lambda c: c.execute(
            "UPDATE jobs SET status=?, started_at=?, attempts=? WHERE id=?", row))

    def requeue(self, job: Job) -> None:
        row = (job.status.value, job.id)
        self.submit(lambda c: c.execute(
            "UPDATE jobs SET status=?, started_at=NULL WHERE id=?", row), wait=False)

    def set_priority(self, job: Job) -> None:
        row = (job.priority, job.id)
        self.submit(lambda c: c.execute("UPDATE jobs SET priority=? WHERE id=?", row), wait=False)

    def finish(self, job: Job, logs: str | None = None, *,
               wait: bool = True) -> asyncio.Future | None:
        """Record a terminal job (the oldest finished beyond ``history_limit`` are deleted)."""
        if logs is not None and len(logs) > self.max_log_bytes:
            logs = logs[-self.max_log_bytes:]
        values = (job.status.value, job.started_at, job.completed_at, encode_value(job.result),
                  job.error, job.error_type, logs, job.attempts)

        def finish(conn: sqlite3.Connection) -> None:
            self._finish_counter += 1
            conn.execute("UPDATE jobs SET status=?, started_at=?, completed_at=?, result=?, "
                         "error=?, error_type=?, logs=?, attempts=?, finish_seq=? WHERE id=?",
                         (*values, self._finish_counter, job.id))
        return self.submit(finish, wait=wait)

    # -- reads ----------------------------------------------------------------------------------

    def _read(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        """A read of committed state (also after close, for a stopped queue's lookups)."""
        try:
            if self._closed:
                reader = sqlite3.connect(f"{self.path.absolute().as_uri()}?mode=ro", uri=True)
                try:
                    return fn(reader)
                finally:
                    reader.close()
            with self._conn_lock:
                return fn(self._conn)
        except sqlite3.Error as exc:
            log.warning("Job journal read failed: %s", exc)
            return None

    def get(self, job_id: str) -> Job | None:
        """A journaled job by id (committed state); a point read, microseconds."""
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
        """Commit what is queued, checkpoint, close the file and drop the lock (idempotent).

        Call it on the event loop's thread when writes may still be queued (their futures
        are resolved here); the checkpoint makes it take a few milliseconds.
        """
        if self._closed:
            return
        self.flush()
        if self._checkpointer is not None:
            self._checkpointer.join()
        self._closed = True
        with self._conn_lock:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._conn.close()
        self._release_lock()


def _fetch(conn: sqlite3.Connection, job_id: str) -> Job | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id=?", (job_id,)).fetchone()
    return None if row is None else job_from_row(row)


def _settle(op: _Op) -> None:
    future = op.future
    if future is None or future.done():
        return
    if op.error is not None:
        future.set_exception(op.error)
    else:
        future.set_result(op.result)
