"""The job queue: priorities, per-plugin lanes, escalating cancel, live events, a journal.

    from cjm_docker import JobQueue

    queue = JobQueue(manager)
    await queue.start()
    job_id = await queue.submit("my-plugin", "input.wav", priority=1)
    async for event in queue.events(job_id):
        print(event.kind, event.progress, event.message)
    job = await queue.wait_for_job(job_id)
"""

from cjm_docker.queue.events import EventKind, JobEvent
from cjm_docker.queue.job import Job, JobStatus
from cjm_docker.queue.job_queue import JobQueue, QueueState
from cjm_docker.queue.watchdog import LoopLagMonitor

__all__ = ["EventKind", "Job", "JobEvent", "JobQueue", "JobStatus", "LoopLagMonitor",
           "QueueState"]
