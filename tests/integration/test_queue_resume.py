"""Durability with real containers: a host process killed (SIGKILL) with 10 jobs pending; a new
host on the same journal resumes all 10, none lost, none run twice.

The example echo plugin appends every result to ``history.log`` in its data folder, so the
container side counts how often each job really ran.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from cjm_docker import labels
from cjm_docker.queue import JobQueue, JobStatus, LoopLagMonitor

pytestmark = pytest.mark.integration

ECHO = "cjm-example-echo"
REPO = Path(__file__).resolve().parents[2]

HOST = textwrap.dedent("""
    import asyncio, json, sys
    from pathlib import Path
    from cjm_docker.config import load_config
    from cjm_docker.host.manager import PluginManager
    from cjm_docker.queue import JobQueue, JobStatus

    async def main(data_dir, journal, tag):
        config = load_config(data_dir=Path(data_dir), models_dir=Path(data_dir) / "models")
        manager = PluginManager(config=config)
        await asyncio.to_thread(manager.load_plugin, "cjm-example-echo")
        queue = JobQueue(manager, journal_path=Path(journal))
        await queue.start()
        blocker = await queue.submit("cjm-example-echo", f"{tag}-blocker", sleep=60)
        ids = [await queue.submit("cjm-example-echo", f"{tag}-{n}") for n in range(10)]
        while queue.get_job(blocker).status is not JobStatus.RUNNING:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.5)  # the blocker's execute is in the container
        print(json.dumps({"blocker": blocker, "ids": ids,
                          "pending": len(queue.get_state()["pending"]),
                          "session": manager.session}), flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main(*sys.argv[1:]))
""")


def _history(data_dir: Path) -> list[str]:
    path = data_dir / "data" / ECHO / "history.log"
    return path.read_text().splitlines() if path.exists() else []


def test_killed_host_resumes_ten_pending_jobs_exactly_once(example_plugins, cjm_config,
                                                             engine, tmp_path):
    from cjm_docker.host.manager import PluginManager

    data_dir = cjm_config.data_dir
    journal = tmp_path / "jobs.sqlite3"
    tag = uuid.uuid4().hex[:8]
    proc = subprocess.Popen([sys.executable, "-c", HOST, str(data_dir), str(journal), tag],
                            stdout=subprocess.PIPE, text=True, cwd=REPO)
    manager = None
    try:
        line = proc.stdout.readline()
        assert line, "the first host died before submitting"
        first = json.loads(line)
        assert first["pending"] == 10
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

        manager = PluginManager(config=cjm_config, engine=engine)
        manager.load_plugin(ECHO)

        async def resume():
            queue = JobQueue(manager, journal_path=journal)
            assert len(queue.get_state()["pending"]) == 10
            async with LoopLagMonitor() as lag:
                await queue.start()
                jobs = [await queue.wait_for_job(i, timeout=60) for i in first["ids"]]
                blocker = await queue.wait_for_job(first["blocker"], timeout=5)
            await queue.stop()
            return jobs, blocker, lag

        jobs, blocker, lag = asyncio.run(resume())
    finally:
        if proc.poll() is None:
            proc.kill()
        if manager is not None:
            manager.unload_all()
        # the killed host's container would expire with its lease; do not wait for it
        for state in engine.list_containers({labels.MANAGED: "true",
                                             labels.OWNER_PID: str(proc.pid)}):
            engine.remove_container(state.id, force=True)

    assert [j.status for j in jobs] == [JobStatus.COMPLETED] * 10
    assert [j.result["text"] for j in jobs] == [f"{tag}-{n}" for n in range(10)]
    assert blocker.status is JobStatus.FAILED and blocker.error_type == "JobInterruptedError"
    ran = [line for line in _history(data_dir) if line.startswith(f"{tag}-")]
    resumed = [line for line in ran if line != f"{tag}-blocker"]
    assert resumed == [f"{tag}-{n}" for n in range(10)]     # each once, in order
    assert ran.count(f"{tag}-blocker") <= 1                 # the interrupted one: not re-run
    assert lag.max_lag < 0.5, lag.report()  # the OS scheduler alone: up to ~0.25 s at load 15
