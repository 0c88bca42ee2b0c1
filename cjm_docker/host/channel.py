"""``WorkerChannel``: how a proxy reaches its worker, whoever stands behind it.

``WorkerClient`` (``transport.py``) implements it over one connection pool to one worker;
``ReplicaSetClient`` (``deploy/replicas.py``) over every replica of a deployed plugin. A proxy
holds a channel and cannot tell which.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, Protocol, runtime_checkable

#: Timeouts for control calls; execute and streams have none unless the caller sets one.
CONTROL_TIMEOUT = 10.0


@runtime_checkable
class WorkerChannel(Protocol):
    """One plugin's worker(s): unary calls and streams, sync and async.

    Every method raises ``cjm_docker`` errors only: ``WorkerConnectError`` when the request
    never left this host, ``WorkerUnreachable`` when the connection broke after, and the
    worker's own typed errors.
    """

    plugin: str

    def describe(self) -> str:
        """Where the worker(s) listen, for messages."""

    def call(self, method: str, path: str, body: Any = None, *,
             timeout: float | None = CONTROL_TIMEOUT) -> Any:
        """Send one request and return the decoded answer."""

    async def acall(self, method: str, path: str, body: Any = None, *,
                    timeout: float | None = CONTROL_TIMEOUT) -> Any:
        """The async twin of ``call``."""

    def stream(self, path: str, body: Any, *, timeout: float | None = None) -> Iterator[Any]:
        """POST and yield each data frame's value (``timeout``: each silent stretch)."""

    def astream(self, path: str, body: Any, *,
                timeout: float | None = None) -> AsyncIterator[Any]:
        """The async twin of ``stream``."""

    def health(self, timeout: float = 2.0) -> dict[str, Any]:
        """GET /health (no token needed)."""

    def close(self) -> None:
        """Close the connections."""

    async def aclose(self) -> None:
        """Close the connections from async code."""
