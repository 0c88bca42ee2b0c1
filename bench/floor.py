"""The floor: the same plugin image doing the least work Docker + FastAPI allow.

A one-route FastAPI app, started with a bare create+start of the same image (what `docker run`
does, minus the CLI's own start-up), listening on a Unix socket in a bind-mounted folder: the
same transport and mounts cjm-docker uses. Everything cjm-docker adds is measured against it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import httpx

from cjm_docker import labels
from cjm_docker.engine import BindMount, ContainerSpec, Engine
from cjm_docker.host.http1 import Http1Client

FLOOR_APP = textwrap.dedent("""
    import json
    import sys
    import uvicorn
    from fastapi import FastAPI, Request
    from fastapi.responses import StreamingResponse
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request):
        return await request.json()

    @app.post("/stream")
    async def stream(request: Request):
        words = (await request.json())["text"].split()

        async def lines():  # async: no thread-pool hop per chunk, the least work per chunk
            for word in words:
                yield json.dumps(word) + "\\n"
        return StreamingResponse(lines(), media_type="application/x-ndjson")

    @app.get("/")
    async def root():
        return {"ok": True}

    uvicorn.run(app, uds=sys.argv[1], log_level="warning", access_log=False)
""")


class FloorServer:
    """A bare FastAPI container from ``image`` on a Unix socket."""

    def __init__(self, engine: Engine, image: str):
        self.engine = engine
        self.image = image
        self.folder = Path(tempfile.mkdtemp(prefix="cjm-floor-", dir="/tmp"))
        os.chmod(self.folder, 0o777)
        self.socket = self.folder / "floor.sock"
        self.container_id: str | None = None
        self.client: httpx.Client | None = None
        self.lean: Http1Client | None = None

    def start(self, timeout: float = 60.0) -> float:
        """Start the container; seconds until its first HTTP 200."""
        started = time.perf_counter()
        self.container_id = self.engine.create_and_start(ContainerSpec(
            image=self.image, name=f"cjm-floor-{uuid.uuid4().hex[:8]}",
            command=["python", "-c", FLOOR_APP, str(self.socket)],
            labels={labels.MANAGED: "true", labels.ROLE: "bench"},
            mounts=(BindMount(str(self.folder), str(self.folder)),), user="10001:10001",
            auto_remove=True))
        self.client = httpx.Client(transport=httpx.HTTPTransport(uds=str(self.socket)),
                                   base_url="http://floor")
        while True:
            if self.socket.exists():
                try:
                    if self.client.get("/").status_code == 200:
                        return time.perf_counter() - started
                except httpx.TransportError:
                    pass
            if time.perf_counter() - started > timeout:
                raise TimeoutError(f"the floor container did not answer in {timeout} s")
            time.sleep(0.005)

    def echo(self, body: dict) -> dict:
        """POST ``body`` with httpx: what a plain FastAPI service's callers would use."""
        assert self.client is not None
        return self.client.post("/echo", json=body).json()

    def echo_lean(self, body: dict) -> dict:
        """POST ``body`` with cjm-docker's own HTTP/1.1 client: the server side alone compared."""
        if self.lean is None:
            self.lean = Http1Client(socket_path=str(self.socket), base_url="http://floor",
                                    headers={})
        return json.loads(self.lean.request("POST", "/echo", json.dumps(body).encode()).body)

    def stream(self, body: dict) -> int:
        """POST ``body`` to the streaming route; the number of chunks read (each JSON-decoded)."""
        assert self.client is not None
        count = 0
        with self.client.stream("POST", "/stream", json=body) as response:
            for line in response.iter_lines():
                if line:
                    json.loads(line)
                    count += 1
        return count

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()
        if self.lean is not None:
            self.lean.close()
        if self.container_id:
            self.engine.remove_container(self.container_id, force=True)
        shutil.rmtree(self.folder, ignore_errors=True)
