"""What a running container tells: its logs, its resource use, its deaths (die/oom events)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cjm_docker.engine.connection import Connection
from cjm_docker.engine.translation import translated
from cjm_docker.errors import CjmDockerError


class MonitoringCalls(Connection):
    """The engine's logs, stats and events calls (nothing foreign escapes, streams included)."""

    def container_logs(self, container_id: str, *, tail: int | str = "all") -> str:
        """The container's stdout and stderr so far ("" when it is gone)."""
        with translated(f"Cannot read logs of {container_id[:12]}", absent=(404,)):
            return self.api.logs(container_id, stdout=True, stderr=True,
                                 tail=tail).decode("utf-8", "replace")
        return ""

    def follow_logs(self, container_id: str, *, tail: int | str = 50) -> Iterator[str]:
        """Yield log text as the container writes it, until it stops (or is gone)."""
        with translated(f"Cannot follow logs of {container_id[:12]}", absent=(404,)):
            for chunk in self.api.logs(container_id, stream=True, follow=True, tail=tail):
                yield chunk.decode("utf-8", "replace")

    def container_stats(self, container_id: str) -> dict[str, Any] | None:
        """One stats sample without the engine's two-second priming wait (None when gone)."""
        with translated(f"Cannot read stats of {container_id[:12]}", absent=(404,)):
            return self.api.stats(container_id, stream=False, one_shot=True)
        return None

    def container_events(self, labels: dict[str, str]) -> Iterator[dict[str, Any]]:
        """Subscribe now to die/oom events of containers carrying ``labels``; iterate to read.

        The subscription is made before this returns, so no event after the call is missed.
        Closing the returned iterator ends the subscription.
        """
        stream = self._call(self.api.events, decode=True, filters={
            "type": "container", "event": ["die", "oom"],
            "label": [f"{k}={v}" for k, v in labels.items()]})
        return _closing_events(stream)


def _closing_events(stream: Any) -> Iterator[dict[str, Any]]:
    """Events until the subscription ends; a broken subscription ends it too (the exit
    recorder resubscribes), so nothing foreign escapes to the reader."""
    try:
        with translated("The engine's event stream broke", absent=tuple(range(400, 600)),
                        waiting=True):
            yield from stream
    except CjmDockerError:
        return
    finally:
        stream.close()
