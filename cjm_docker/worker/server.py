"""Binding the listening socket and serving the app with uvicorn, signals left to us.

The socket is bound (and listening) before the plugin starts loading, so the host can connect
and read ``/health`` = starting at once; connections made before the loop runs wait in the
backlog.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import stat
import sys
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn

BACKLOG = 128
# The host keeps one pooled connection; a long keep-alive avoids the race where the server
# closes an idle connection just as the client reuses it.
KEEP_ALIVE_S = 75


def bind_unix(path: str) -> socket.socket:
    """Bind and listen on a Unix socket at ``path`` (replacing a stale socket file there).

    The socket is world-writable, as uvicorn makes its own: the container's user and the host's
    usually differ, and the bearer token, not file modes, is what guards it.
    """
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)  # left by an earlier worker; bind would fail with EADDRINUSE
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        os.chmod(path, 0o666)
        sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


def bind_tcp(host: str, port: int) -> socket.socket:
    """Bind and listen on ``host:port`` (IPv6 when ``host`` has a colon)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=BACKLOG)


def describe(sock: socket.socket) -> str:
    """``unix:PATH`` or ``tcp:HOST:PORT`` of a bound socket."""
    if sock.family == socket.AF_UNIX:
        return f"unix:{sock.getsockname()}"
    host, port = sock.getsockname()[:2]
    return f"tcp:{host}:{port}"


class _Server(uvicorn.Server):
    """uvicorn.Server with its signal handling switched off.

    Its own handlers would start a graceful shutdown that waits for a stuck ``execute`` forever,
    never runs the plugin's cleanup, and re-raises the signal afterwards.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # uvicorn >= 0.29
        yield

    def install_signal_handlers(self) -> None:  # uvicorn < 0.29
        pass


def _http_implementation() -> Any:
    """httptools' parser, writing each answer in one piece (``coalesce.py``), when installed."""
    try:
        from cjm_docker.worker.coalesce import TurnWriteProtocol
    except ImportError:  # no httptools: uvicorn's h11 protocol
        return "h11"
    return TurnWriteProtocol


def serve(app: Any, sock: socket.socket, *, on_signal: Callable[[int], None],
          on_started: Callable[[], object]) -> None:
    """Serve ``app`` on ``sock`` until the process exits (blocking).

    Args:
        app: the ASGI app.
        sock: a bound, listening socket.
        on_signal: called on the event loop for SIGTERM and SIGINT.
        on_started: called once the loop runs (start loading the plugin here).
    """
    config = uvicorn.Config(app, loop="none", http=_http_implementation(), lifespan="off",
                            log_level="warning", access_log=False, server_header=False,
                            # No proxy sits between host and worker: skip X-Forwarded-* parsing.
                            proxy_headers=False,
                            date_header=False, timeout_keep_alive=KEEP_ALIVE_S)
    server = _Server(config)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, on_signal, signum)
        on_started()
        await server.serve(sockets=[sock])

    _run(main)


def _run(main: Callable[[], Any]) -> None:
    """Run ``main()`` on uvloop when it is installed, else on asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
        return
    if sys.version_info >= (3, 11):
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(main())
    else:  # pragma: no cover - Python 3.10
        uvloop.install()
        asyncio.run(main())
