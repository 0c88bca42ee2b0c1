"""The capped log file: tee, line flushing, rotation, and faulthandler output after a crash."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from cjm_docker.worker.logfile import CappedLog, Tee
from tests.fixtures.worker_harness import REPO_ROOT


def test_tee_writes_both_and_flushes_each_line(tmp_path: Path) -> None:
    log = CappedLog(str(tmp_path / "logs" / "worker.log"))
    primary = io.StringIO()
    tee = Tee(primary, log)
    tee.write("hello ")
    tee.write("world\n")
    assert primary.getvalue() == "hello world\n"
    assert (tmp_path / "logs" / "worker.log").read_text() == "hello world\n"  # no flush needed
    log.close()


def test_rotation_keeps_one_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "worker.log"
    log = CappedLog(str(path), max_bytes=1000)
    for i in range(50):  # 50 bytes each: rotates at lines 19 and 39
        log.write(f"line {i:03d} " + "x" * 40 + "\n")
    log.close()
    previous = (tmp_path / "worker.log.1").read_text()
    current = path.read_text()
    assert len(previous.encode()) >= 1000 and len(current.encode()) < 1000
    assert current.endswith("line 049 " + "x" * 40 + "\n")
    assert not (tmp_path / "worker.log.2").exists()


def test_a_broken_primary_stream_does_not_stop_the_copy(tmp_path: Path) -> None:
    log = CappedLog(str(tmp_path / "w.log"))
    primary = io.StringIO()
    primary.close()
    Tee(primary, log).write("still logged\n")
    assert (tmp_path / "w.log").read_text() == "still logged\n"


def test_install_tees_stdio_and_catches_a_segfault_after_rotation(tmp_path: Path) -> None:
    path = tmp_path / "worker.log"
    script = (
        "import sys, faulthandler\n"
        "from cjm_docker.worker import logfile\n"
        f"logfile.install({str(path)!r}, max_bytes=1000)\n"
        "for i in range(30): print('x' * 49)\n"  # rotates once: 1500 bytes
        "print('to stdout')\n"
        "print('to stderr', file=sys.stderr)\n"
        "faulthandler._sigsegv()\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=30)
    assert done.returncode != 0
    assert "to stdout" in done.stdout and "to stderr" in done.stderr
    text = path.read_text()
    assert "to stdout" in text and "to stderr" in text
    assert "Fatal Python error: Segmentation fault" in text  # into the file after rotation
    assert (tmp_path / "worker.log.1").exists()
