"""Job queue benchmark: cjm-docker's JobQueue beside cjm-plugin-system 0.0.28's, in one run.

Both queues run the same trivial plugin (``execute(x)`` returns ``x``): ours in its container
over the worker protocol, theirs in a worker host process launched by their proxy (their
design: see reference/cjm-plugin-system-behaviour.md sections 2 and 3.3). Each submits
``--jobs`` jobs back to back, then waits for every one; the rate is jobs / wall time.

On our side it also measures, with a watchdog that sleeps 10 ms in a loop, how late the event
loop ran during the run (history evictions included) and during a cancel that escalates: a
60-second job whose plugin ignores cancel is cancelled, its container replaced, the next job run.

Run from the repository root (needs Docker; installs cjm-plugin-system 0.0.28 into its own
venv under bench/out/ on first use):

    .venv/bin/python bench/queue_bench.py [--jobs 1000] [--cps-jobs 1000]

Prints one JSON line and writes it to bench/out/queue_bench.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
CPS_VERSION = "0.0.28"
PLUGIN = "cjm-bench-trivial"

# A plugin that needs nothing: no cjm import, so either system's worker can host it.
TRIVIAL_PACKAGE = {
    "pyproject.toml": """
        [build-system]
        requires = ["hatchling>=1.21"]
        build-backend = "hatchling.build"

        [project]
        name = "cjm-bench-trivial"
        version = "0.1.0"
        requires-python = ">=3.10"
        dependencies = []

        [tool.hatch.build.targets.wheel]
        packages = ["cjm_bench_trivial"]
    """,
    "cjm_bench_trivial/__init__.py": "",
    "cjm_bench_trivial/meta.py": """
        def get_plugin_metadata():
            return {"name": "cjm-bench-trivial", "version": "0.1.0", "category": "bench",
                    "module": "cjm_bench_trivial.plugin", "class": "TrivialPlugin",
                    "description": "Returns its input; sleeps on request, ignoring cancel."}
    """,
    "cjm_bench_trivial/plugin.py": """
        import time


        class TrivialPlugin:
            name = "cjm-bench-trivial"
            version = "0.1.0"

            def initialize(self, config=None):
                pass

            def execute(self, x=None, sleep=0.0):
                if sleep:
                    time.sleep(sleep)  # deliberately deaf to cancel
                return x

            def execute_stream(self, x=None, sleep=0.0):
                yield self.execute(x, sleep)

            def get_config_schema(self):
                return {}

            def get_current_config(self):
                return {}

            def cancel(self):
                pass  # ignored on purpose: the queue has to escalate

            def cleanup(self):
                pass
    """,
}

CPS_SCRIPT = """
import asyncio, json, sys, time
from pathlib import Path
from cjm_plugin_system.core.manager import PluginManager
from cjm_plugin_system.core.queue import JobQueue

async def main(manifests, jobs):
    manager = PluginManager(search_paths=[Path(manifests)])
    manager.discover_manifests()
    meta = manager.get_discovered_meta("cjm-bench-trivial")
    assert manager.load_plugin(meta), "their worker did not load"
    try:
        queue = JobQueue(manager)
        await queue.start()
        for i in range(5):  # warm-up
            await queue.wait_for_job(await queue.submit("cjm-bench-trivial", i), timeout=30)
        started = time.perf_counter()
        ids = [await queue.submit("cjm-bench-trivial", i) for i in range(jobs)]
        done = [await queue.wait_for_job(i, timeout=600) for i in ids]
        elapsed = time.perf_counter() - started
        ok = sum(1 for j in done if j.status.value == "completed")
        await queue.stop()
    finally:
        manager.unload_all()
    print(json.dumps({"jobs": jobs, "completed": ok, "seconds": elapsed,
                      "jobs_per_s": jobs / elapsed}))

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


def write_trivial_package(root: Path) -> Path:
    """The plugin's source tree (rewritten only when it changed, so the image cache holds)."""
    for rel, text in TRIVIAL_PACKAGE.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        body = textwrap.dedent(text).lstrip()
        if not path.exists() or path.read_text() != body:
            path.write_text(body)
    return root


# -- theirs ----------------------------------------------------------------------------------

def cps_python() -> Path:
    venv = OUT / "cps-venv"
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import importlib.metadata as m; "
             "print(m.version('cjm-plugin-system'))"]
    if python.exists() and subprocess.run(probe, capture_output=True, text=True).stdout.strip() \
            == CPS_VERSION:
        return python
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q",
                    f"cjm-plugin-system=={CPS_VERSION}"], check=True)
    return python


def run_theirs(package: Path, jobs: int) -> dict:
    python = cps_python()
    data = OUT / "cps-data"
    shutil.rmtree(data, ignore_errors=True)
    manifests = data / "manifests"
    manifests.mkdir(parents=True)
    manifest = {"name": PLUGIN, "version": "0.1.0", "category": "bench",
                "module": "cjm_bench_trivial.plugin", "class": "TrivialPlugin",
                "python_path": str(python), "config_schema": {}}
    (manifests / f"{PLUGIN}.json").write_text(json.dumps(manifest))
    env = {**os.environ, "CJM_DATA_DIR": str(data), "PYTHONPATH": str(package)}
    done = subprocess.run([str(python), "-c", CPS_SCRIPT, str(manifests), str(jobs)], env=env,
                          capture_output=True, text=True, cwd=data, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"cjm-plugin-system run failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- ours ------------------------------------------------------------------------------------

def build_ours(package: Path, data: Path) -> None:
    plugins = OUT / "plugins.yaml"
    plugins.write_text(textwrap.dedent(f"""
        plugins:
          - name: {PLUGIN}
            env_name: bench-trivial
            python_version: "3.11"
            package: {package}
    """).lstrip())
    cli = [sys.executable, "-m", "cjm_docker.cli.app", "--data-dir", str(data)]
    subprocess.run([*cli, "setup-runtime"], check=True, capture_output=True)
    done = subprocess.run([*cli, "install-all", "--plugins", str(plugins)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"building the trivial plugin failed:\n{done.stdout}\n{done.stderr}")


async def run_ours(data: Path, jobs: int, cancel_timeout: float) -> dict:
    from cjm_docker.config import CjmConfig
    from cjm_docker.host.manager import PluginManager
    from cjm_docker.queue import JobQueue, JobStatus, LoopLagMonitor

    journal = data / "bench-jobs.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{journal}{suffix}").unlink(missing_ok=True)
    manager = PluginManager(config=CjmConfig(data_dir=data))
    await asyncio.to_thread(manager.load_plugin, PLUGIN)
    try:
        queue = JobQueue(manager, cancel_timeout=cancel_timeout, journal_path=journal)
        await queue.start()
        for i in range(20):  # warm-up: connections, caches
            await queue.wait_for_job(await queue.submit(PLUGIN, i), timeout=30)
        # For scale: the same calls straight through the manager, no queue.
        started = time.perf_counter()
        for i in range(min(jobs, 500)):
            await manager.execute_plugin_async(PLUGIN, i)
        direct = min(jobs, 500) / (time.perf_counter() - started)

        async with LoopLagMonitor() as run_lag:  # max_history=100: 900 evictions on the way
            started = time.perf_counter()
            ids = [await queue.submit(PLUGIN, i) for i in range(jobs)]
            done = [await queue.wait_for_job(i, timeout=600) for i in ids]
            elapsed = time.perf_counter() - started
        completed = sum(1 for j in done if j.status is JobStatus.COMPLETED)
        assert [j.result for j in done] == list(range(jobs)), "results out of order or lost"

        before = manager.get_plugin(PLUGIN).container.id
        async with LoopLagMonitor() as cancel_lag:
            stuck = await queue.submit(PLUGIN, "stuck", sleep=60)
            after = await queue.submit(PLUGIN, "after")
            while queue.get_job(stuck).status is not JobStatus.RUNNING:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.5)
            t0 = time.perf_counter()
            await queue.cancel(stuck)
            cancelled = await queue.wait_for_job(stuck, timeout=120)
            cancel_s = time.perf_counter() - t0
            next_job = await queue.wait_for_job(after, timeout=60)
        replaced = manager.get_plugin(PLUGIN).container.id != before
        await queue.stop()
    finally:
        await asyncio.to_thread(manager.unload_all)
    return {
        "jobs": jobs, "completed": completed, "seconds": elapsed, "jobs_per_s": jobs / elapsed,
        "direct_execute_per_s": round(direct, 1),
        "max_loop_lag_ms_run": round(run_lag.max_lag * 1000, 2),
        "cancel": {"status": cancelled.status.value, "seconds": round(cancel_s, 3),
                   "cancel_timeout": cancel_timeout, "container_replaced": replaced,
                   "next_job": next_job.status.value, "next_result": next_job.result,
                   "max_loop_lag_ms": round(cancel_lag.max_lag * 1000, 2)},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000, help="jobs through our queue")
    parser.add_argument("--cps-jobs", type=int, default=1000,
                        help="jobs through cjm-plugin-system's queue (about 10/s)")
    parser.add_argument("--cancel-timeout", type=float, default=3.0)
    parser.add_argument("--ours-only", action="store_true",
                        help="skip cjm-plugin-system (no ratio; for quick iterations)")
    args = parser.parse_args(argv)

    OUT.mkdir(parents=True, exist_ok=True)
    package = write_trivial_package(OUT / "cjm-bench-trivial")
    data = OUT / "ours-data"
    build_ours(package, data)
    ours = asyncio.run(run_ours(data, args.jobs, args.cancel_timeout))
    if args.ours_only:
        print(json.dumps({"bench": "queue", "ours": ours}))
        return
    theirs = run_theirs(package, args.cps_jobs)
    report = {
        "bench": "queue", "ours_jobs_per_s": round(ours["jobs_per_s"], 1),
        "cps_jobs_per_s": round(theirs["jobs_per_s"], 2), "cps_version": CPS_VERSION,
        "ratio": round(ours["jobs_per_s"] / theirs["jobs_per_s"], 1),
        "ours": ours, "cps": theirs,
        "machine": {"cpus": os.cpu_count(), "load_avg": os.getloadavg(),
                    "python": platform.python_version()},
    }
    line = json.dumps(report)
    (OUT / "queue_bench.json").write_text(line + "\n")
    print(line)


if __name__ == "__main__":
    main()
