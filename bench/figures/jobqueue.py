"""Queue throughput: bench/queue_bench.py's own runs, ours and 0.0.28's, in this run.

Both queues run queue_bench's trivial plugin (its own image and its own 0.0.28 worker). There
is no floor for a queue: that column stays empty. The quick mode submits fewer jobs.
"""

from __future__ import annotations

import asyncio

import queue_bench

from figures.common import Bench, Figure


def queue_throughput(bench: Bench) -> list[Figure]:
    jobs, cps_jobs = bench.n(1000, 100), bench.n(200, 20)
    queue_bench.OUT.mkdir(parents=True, exist_ok=True)
    package = queue_bench.write_trivial_package(queue_bench.OUT / "cjm-bench-trivial")
    data = queue_bench.OUT / "ours-data"
    queue_bench.build_ours(package, data)
    ours = asyncio.run(queue_bench.run_ours(data, jobs, cancel_timeout=3.0))
    theirs = queue_bench.run_theirs(package, cps_jobs)
    figure = Figure("queue_jobs_per_s", "Queue throughput, trivial jobs", "jobs/s", "higher",
                    "queue", ours["jobs_per_s"], None, theirs["jobs_per_s"])
    figure.extra = {"jobs": jobs, "cps_jobs": cps_jobs,
                    "direct_execute_per_s": ours["direct_execute_per_s"],
                    "cancel_s": ours["cancel"]["seconds"]}
    return [figure]
