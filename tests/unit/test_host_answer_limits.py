"""Answers are bounded: an answer or stream frame over the limit is a clear error (never read
whole), and a large answer costs about its text and its value in host memory, not more."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cjm_docker.errors import AnswerTooLargeError
from cjm_docker.host.transport import WorkerAddress, WorkerClient
from tests.fixtures.worker_harness import REPO_ROOT, TOKEN, running_worker

MIB = 1 << 20


def test_an_answer_over_the_limit_is_refused_and_the_client_goes_on(tmp_path: Path) -> None:
    with running_worker(tmp_path, "LargePlugin") as worker:
        worker.wait_for_health()
        client = WorkerClient(WorkerAddress(socket_path=str(worker.socket)), TOKEN, "large",
                              max_answer_bytes=MIB)
        with pytest.raises(AnswerTooLargeError) as caught:
            client.call("POST", "/execute", {"kwargs": {"mb": 3}}, timeout=30)
        message = str(caught.value)
        assert "FileBackedDTO" in message and "max_answer_mb" in message and "large" in message
        assert client.call("POST", "/execute", {"kwargs": {"mb": 0.5}}, timeout=30) \
            == "x" * 500_000

        async def via_async() -> None:
            with pytest.raises(AnswerTooLargeError):
                await client.acall("POST", "/execute", {"kwargs": {"mb": 3}}, timeout=30)
            assert len(await client.acall("POST", "/execute", {"kwargs": {"mb": 0.1}},
                                          timeout=30)) == 100_000
        asyncio.run(via_async())
        client.close()


def test_a_stream_frame_over_the_limit_is_refused(tmp_path: Path) -> None:
    with running_worker(tmp_path, "LargePlugin") as worker:
        worker.wait_for_health()
        client = WorkerClient(WorkerAddress(socket_path=str(worker.socket)), TOKEN, "large",
                              max_answer_bytes=MIB)
        got = []
        with pytest.raises(AnswerTooLargeError, match="FileBackedDTO"):
            for value in client.stream("/execute_stream", {"kwargs": {"mb": 4}}, timeout=30):
                got.append(value)
        assert got == ["small"]   # frames before the large one arrived
        frames = list(client.stream("/execute_stream", {"kwargs": {"mb": 0.3, "frames": 3}},
                                    timeout=30))
        assert [len(f) for f in frames] == [5, 300_000, 300_000, 300_000]
        client.close()


# Run in a fresh interpreter so that its peak RSS is this call's alone.
_MEASURE = textwrap.dedent("""
    import json, resource, sys
    sys.path.insert(0, {repo!r})
    from cjm_docker.host.transport import WorkerAddress, WorkerClient
    client = WorkerClient(WorkerAddress(socket_path={sock!r}), {token!r}, "large",
                          max_answer_bytes=1 << 30)
    client.call("GET", "/health")
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if sys.argv[1] == "result":
        value = client.call("POST", "/execute", {{"kwargs": {{"mb": {mb}}}}}, timeout=120)
        assert len(value) == {mb} * 1_000_000
    else:
        arg = "y" * ({mb} * 1_000_000)
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # the argument itself is not ours
        assert client.call("POST", "/execute", {{"kwargs": {{"mb": 0, "blob": arg}}}},
                           timeout=120) == ""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({{"extra_mb": (peak - base) / 1000}}))
""")


@pytest.mark.parametrize(("kind", "most"), [("result", 2.3), ("argument", 0.3)])
def test_a_large_answer_or_argument_costs_about_its_own_size(tmp_path: Path, kind: str,
                                                             most: float) -> None:
    mb = 100
    with running_worker(tmp_path, "LargePlugin") as worker:
        worker.wait_for_health()
        script = _MEASURE.format(repo=str(REPO_ROOT), sock=str(worker.socket), token=TOKEN, mb=mb)
        out = subprocess.run([sys.executable, "-c", script, kind], capture_output=True,
                             text=True, timeout=300, check=True)
    extra = json.loads(out.stdout.strip().splitlines()[-1])["extra_mb"]
    # result: its text and its value (2x; 2.9x before). argument: one slice of its text at a
    # time, escaped while it is sent (~0x; 2x before: json.dumps' working copy and its text).
    assert extra < most * mb, f"{kind} of {mb} MB raised peak RSS by {extra:.0f} MB"
