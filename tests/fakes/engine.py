"""``FakeEngine``: the one in-memory ``ContainerEngine`` of the unit tests.

It keeps images and containers in dicts and records every call in ``calls``, so a test states
what the engine holds and reads back what the code asked of it. Registry pulls fail as on a
machine without a registry unless the test says otherwise. Integration tests use the real one.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import IO, Any

from cjm_docker.engine_types import BuildEvent, ContainerSpec, ContainerState
from cjm_docker.errors import ImageError

_ids = itertools.count(1)


class FakeEngine:
    """An engine in memory.

    Args:
        images: image references present.
        containers: containers present.
        runtimes: the runtimes ``info()`` reports.
        root: ``DockerRootDir`` in ``info()``.
        stats: what ``container_stats`` answers, by container id.
        pull_works: pulls succeed (else they fail like a machine without a registry).
    """

    def __init__(self, images: Iterable[str] = (), *,
                 containers: Iterable[ContainerState] = (), runtimes: Iterable[str] = ("runc",),
                 root: str = "/", stats: dict[str, dict[str, Any]] | None = None,
                 pull_works: bool = False) -> None:
        self.images = set(images)
        self.containers = {c.id: c for c in containers}
        self.runtimes = tuple(runtimes)
        self.root = root
        self.stats = dict(stats or {})
        self.pull_works = pull_works
        self.calls: list[tuple[Any, ...]] = []
        self.removed: list[str] = []
        self.endpoint = "fake://engine"

    # -- engine -----------------------------------------------------------------------------

    def version(self) -> dict[str, Any]:
        return {"Version": "27.1.0", "ApiVersion": "1.46", "Os": "linux", "Arch": "amd64"}

    def info(self) -> dict[str, Any]:
        return {"Runtimes": {r: {} for r in self.runtimes}, "DefaultRuntime": "runc",
                "DockerRootDir": self.root, "HttpsProxy": "http://user:secret@proxy:3128"}

    # -- images -----------------------------------------------------------------------------

    def image_inspect(self, ref: str) -> dict[str, Any] | None:
        return {"Id": f"sha256:{ref}", "RepoTags": [ref], "Config": {}} \
            if ref in self.images else None

    def image_exists(self, ref: str) -> bool:
        return ref in self.images

    def list_images(self, label: str | None = None) -> list[dict[str, Any]]:
        return [{"RepoTags": sorted(self.images)}]

    def tag_image(self, source: str, ref: str) -> None:
        self.calls.append(("tag", source, ref))
        self.images.add(ref)

    def remove_image(self, ref: str, *, force: bool = False) -> bool:
        self.calls.append(("remove_image", ref))
        present = ref in self.images
        self.images.discard(ref)
        return present

    def pull(self, ref: str) -> None:
        self.calls.append(("pull", ref))
        if not self.pull_works:
            raise ImageError(f"Cannot pull {ref}: dial tcp: lookup registry-1.docker.io: "
                             "no such host")
        self.images.add(ref)

    def build(self, context: IO[bytes], *, tag: str | None = None,
              labels: dict[str, str] | None = None, buildargs: dict[str, str] | None = None,
              on_event: Callable[[BuildEvent], None] | None = None, nocache: bool = False,
              plugin: str | None = None, memory_bytes: int | None = None,
              on_container: Callable[[str], None] | None = None) -> str:
        self.calls.append(("build", tag))
        if tag:
            self.images.add(tag)
        return f"sha256:built-{tag}"

    # -- containers -------------------------------------------------------------------------

    def create_and_start(self, spec: ContainerSpec) -> str:
        self.calls.append(("create_and_start", spec.name))
        container_id = f"c{next(_ids)}"
        self.containers[container_id] = ContainerState(
            id=container_id, name=spec.name, status="running", running=True, exit_code=None,
            oom_killed=False, labels=dict(spec.labels), image=spec.image)
        return container_id

    def container_state(self, container_id: str) -> ContainerState | None:
        return self.containers.get(container_id)

    def list_containers(self, labels: dict[str, str] | None = None, *,
                        all: bool = True) -> list[ContainerState]:
        wanted = (labels or {}).items()
        return [c for c in self.containers.values() if (all or c.running) and not any(
            c.labels.get(k) != v and not (v == "" and k in c.labels) for k, v in wanted)]

    def stop_container(self, container_id: str, timeout: float = 5) -> None:
        self.calls.append(("stop", container_id))
        if container_id in self.containers:
            self.containers[container_id] = replace(self.containers[container_id],
                                                    status="exited", running=False, exit_code=0)

    def kill_container(self, container_id: str, signal: str = "SIGKILL") -> None:
        self.calls.append(("kill", container_id, signal))
        self.stop_container(container_id)

    def remove_container(self, container_id: str, *, force: bool = True) -> bool:
        self.calls.append(("remove", container_id))
        self.removed.append(container_id)
        return self.containers.pop(container_id, None) is not None

    def wait_container(self, container_id: str, timeout: float | None = None) -> int | None:
        state = self.containers.get(container_id)
        return None if state is None else state.exit_code

    def container_logs(self, container_id: str, *, tail: int | str = "all") -> str:
        return ""

    def follow_logs(self, container_id: str, *, tail: int | str = 50) -> Iterator[str]:
        return iter(())

    def container_stats(self, container_id: str) -> dict[str, Any] | None:
        return self.stats.get(container_id)
