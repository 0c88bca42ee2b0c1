"""The lease renewer (issue 13, items 5, 7, 14): it renews through no link, measures ``run/``
without following links, and ends when its host's pipe closes."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from cjm_docker.host import lease_renewer
from cjm_docker.host.runtime_folder import RUN_FOLDER_CAP, RuntimeFolder, read_untrusted


def test_a_lease_swapped_for_a_link_is_not_renewed_through_it(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("x")
    os.utime(victim, (1, 1))
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "lease").symlink_to(victim)
    assert lease_renewer.renew(folder) is False
    assert victim.stat().st_mtime == 1


def test_a_lease_is_renewed(tmp_path):
    folder, _ = RuntimeFolder.create(tmp_path / "rt", "cjm-x-1")
    os.utime(folder.lease_file, (1, 1))
    assert lease_renewer.renew(folder.path)
    assert time.time() - folder.lease_file.stat().st_mtime < 5


def test_run_folder_size_counts_files_never_link_targets(tmp_path):
    folder, _ = RuntimeFolder.create(tmp_path / "rt", "cjm-x-1")
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * (RUN_FOLDER_CAP + 1))
    (folder.run / "link").symlink_to(big)
    (folder.run / "worker.log").write_bytes(b"x" * 1000)
    assert 1000 <= lease_renewer.run_folder_bytes(folder.path) < RUN_FOLDER_CAP
    (folder.run / "fill.bin").write_bytes(b"\0" * (RUN_FOLDER_CAP + 1))
    assert lease_renewer.run_folder_bytes(folder.path) > RUN_FOLDER_CAP


def test_the_host_never_reads_through_a_planted_log_link(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("do not read")
    folder, _ = RuntimeFolder.create(tmp_path / "rt", "cjm-x-1")
    folder.log_file.symlink_to(secret)
    assert read_untrusted(folder.log_file) == b""
    assert folder.log_tail() == ""
    os.mkfifo(folder.run / "worker.log.1")
    assert folder.log_tail() == ""      # a FIFO is not read (it would block)


def test_the_renewer_ends_when_its_host_pipe_closes(tmp_path):
    folder, _ = RuntimeFolder.create(tmp_path / "rt", "cjm-x-1")
    renewer = subprocess.Popen([sys.executable, "-m", "cjm_docker.host.lease_renewer",
                                str(os.getpid()), "0.1"], stdin=subprocess.PIPE)
    assert renewer.stdin is not None
    renewer.stdin.write(f"add\t\t{folder.path}\n".encode())   # no container to stop
    renewer.stdin.flush()
    os.utime(folder.lease_file, (1, 1))
    deadline = time.monotonic() + 10
    while folder.lease_file.stat().st_mtime == 1:
        assert time.monotonic() < deadline, "not renewed"
        time.sleep(0.05)
    renewer.stdin.close()
    assert renewer.wait(timeout=10) == 0


def test_lines_it_does_not_know_are_ignored(tmp_path):
    renewer = lease_renewer.Renewer(os.getpid(), 1.0)
    for line in ("", "add", "add\tx", "drop", "rm -rf /", "add\tid\t" + str(tmp_path / "none")):
        renewer.command(line)
    renewer.tick()
    assert renewer.containers == {}
