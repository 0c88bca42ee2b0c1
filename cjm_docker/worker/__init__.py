"""The universal worker: runs inside every plugin container as ``python -m cjm_docker.worker``.

It imports only the standard library, fastapi/starlette, uvicorn and, when present, psutil,
uvloop and httptools: it is baked into plugin images that have none of the host's dependencies.

    __main__      the command line: options, token, log tee, lease, then serve
    server        binds the socket first, runs uvicorn with signals left to us
    coalesce      uvicorn's httptools protocol, an answer's head and body in one write
    app           the HTTP endpoints of cjm_docker.wire
    auth          the bearer-token check (plain ASGI middleware)
    openapi       request/response schemas for /openapi.json
    host          PluginHost: loads the plugin, runs every call on the plugin thread
    calls         CallKind and the record of a call in progress
    conventions   the plugin attributes for progress and cancel (_progress, _cancel_requested)
    lifecycle     HostState and its allowed transitions
    plugin_thread the single thread plugin code runs on
    doorbell      how a finished call wakes the event loop (a pipe, no lock held)
    streaming     NDJSON frames from the plugin thread to the event loop, in batches
    failures      every error answer: status + the wire's ErrorBody
    shutdown      SIGTERM / lease expiry: cleanup within a grace period, then a certain exit
    lease         exits when the host stops renewing its lease file
    logfile       a capped copy of all output, for the host to read after a crash
    stats         CPU and memory of the worker's process tree
"""

from __future__ import annotations

from cjm_docker.worker.host import PluginHost
from cjm_docker.worker.lifecycle import HostState

__all__ = ["PluginHost", "HostState"]
