"""The host lease: stale or missing lease file means the host is gone."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from cjm_docker.worker.lease import LeaseWatcher


def test_a_fresh_lease_holds(tmp_path: Path) -> None:
    lease = tmp_path / "lease"
    lease.touch()
    watcher = LeaseWatcher(str(lease), 10, lambda reason: None)
    assert watcher.expired_reason() is None
    assert watcher.interval == 1.0


def test_a_stale_lease_expires(tmp_path: Path) -> None:
    lease = tmp_path / "lease"
    lease.touch()
    os.utime(lease, (time.time() - 42, time.time() - 42))
    reason = LeaseWatcher(str(lease), 10, lambda reason: None).expired_reason()
    assert reason == "host lease expired after 42 s; shutting down"


def test_a_missing_lease_expires(tmp_path: Path) -> None:
    reason = LeaseWatcher(str(tmp_path / "gone"), 5, lambda r: None).expired_reason()
    assert reason is not None and reason.startswith("host lease expired after 5 s; shutting down")


def test_the_clock_is_injectable(tmp_path: Path) -> None:
    lease = tmp_path / "lease"
    lease.touch()
    now = lease.stat().st_mtime
    watcher = LeaseWatcher(str(lease), 2, lambda r: None, clock=lambda: now + 3)
    assert watcher.expired_reason() == "host lease expired after 3 s; shutting down"


def test_the_watcher_calls_back_once_renewals_stop(tmp_path: Path) -> None:
    lease = tmp_path / "lease"
    lease.touch()
    expired = threading.Event()
    # Renewed every 0.2 s against a 1.2 s timeout: only a renewal late by a whole second (a
    # stall even a loaded CI machine does not have) would expire it.
    watcher = LeaseWatcher(str(lease), 1.2, lambda reason: expired.set())
    assert watcher.interval == pytest.approx(0.3)
    watcher.start()
    for _ in range(8):  # renewed for longer than the timeout: holds
        time.sleep(0.2)
        lease.touch()
    assert not expired.is_set()
    assert expired.wait(30)  # no more renewals


def test_timeout_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        LeaseWatcher(str(tmp_path), 0, lambda r: None)
