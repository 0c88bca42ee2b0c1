"""Building an image from a Dockerfile context with the classic builder, and its log."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterator
from typing import IO

from cjm_docker.engine.images import ImageCalls
from cjm_docker.engine.translation import translated
from cjm_docker.engine_types import BuildEvent
from cjm_docker.errors import BuildError

BUILD_LOG_TAIL_LINES = 30
_STEP_RE = re.compile(r"^Step \d+/\d+ : ")
_ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# The classic builder's own bookkeeping lines: not the failing step's output.
_NOISE_RE = re.compile(r"^\s*(---> |Removing intermediate container )")
_BUILT_RE = re.compile(r"Successfully built ([0-9a-f]+)")
# Each step's intermediate container, named as soon as the builder has made it.
_CONTAINER_RE = re.compile(r"^\s*---> Running in ([0-9a-f]{12,64})\s*$")


class BuildLog:
    """The last lines of a build's output: what the error of a failing step shows."""

    def __init__(self) -> None:
        self.tail: deque[str] = deque(maxlen=BUILD_LOG_TAIL_LINES)

    @staticmethod
    def lines(text: str) -> Iterator[str]:
        """The lines of ``text`` that say something, terminal colour codes removed."""
        for line in _ANSI_RE.sub("", text).splitlines():
            if line.strip():
                yield line

    def text(self) -> str:
        return "\n".join(self.tail)


class BuildCalls(ImageCalls):
    """The engine's classic ``docker build``."""

    def build(self, context: IO[bytes], *, tag: str | None = None,
              labels: dict[str, str] | None = None, buildargs: dict[str, str] | None = None,
              on_event: Callable[[BuildEvent], None] | None = None, nocache: bool = False,
              plugin: str | None = None, memory_bytes: int | None = None,
              on_container: Callable[[str], None] | None = None) -> str:
        """Build from a gzip/plain tar ``context`` (Dockerfile at its root) with the classic builder.

        ``memory_bytes`` bounds each build step's container (the classic builder takes no CPU
        quota or process limit). ``on_container`` hears the (short) id of each intermediate
        container as the builder names it: those carry no owner labels, and the engine leaves
        them behind when it cannot finish the build's own clean-up (``build_journal``).

        Returns:
            The new image id.

        Raises:
            BuildError: with the failing step and the tail of the log. Intermediate containers
                are removed (``forcerm``) and no tag is applied, so nothing half-built remains.
        """
        log = BuildLog()
        step: str | None = None
        image_id: str | None = None

        def failed(message: str, hint: str | None = None) -> BuildError:
            return BuildError(message, plugin=plugin, step=step, log_tail=log.text(), hint=hint)

        with translated("Image build failed", error=failed):
            stream = self.api.build(fileobj=context, custom_context=True, tag=tag, labels=labels,
                                    buildargs=buildargs, rm=True, forcerm=True, decode=True,
                                    nocache=nocache, pull=False, container_limits={
                                        "memory": memory_bytes, "memswap": -1}
                                    if memory_bytes else None)
            for chunk in stream:
                if "error" in chunk:
                    detail = chunk.get("errorDetail", {}).get("message") or chunk["error"]
                    raise failed(f"Image build failed: {detail.strip()}")
                if "aux" in chunk and "ID" in chunk["aux"]:
                    image_id = chunk["aux"]["ID"]
                for line in log.lines(str(chunk.get("stream", ""))):
                    made = _CONTAINER_RE.match(line)
                    if made and on_container:
                        on_container(made.group(1))
                    if _STEP_RE.match(line):
                        step = line.strip()
                        kind = "step"
                        log.tail.clear()  # the tail shows the output of the step that fails
                    else:
                        if not _NOISE_RE.match(line):
                            log.tail.append(line)
                        kind = "output"
                    if on_event:
                        on_event(BuildEvent(kind, line))
                    match = _BUILT_RE.match(line)
                    if match and image_id is None:
                        image_id = match.group(1)
                if "status" in chunk and on_event:
                    on_event(BuildEvent("status", str(chunk["status"])))
        if image_id is None:
            raise failed("Image build ended without producing an image.")
        return image_id if image_id.startswith("sha256:") else self._present_id(image_id, plugin)
