"""Images as they are: inspect, list, tag, remove, pull, and import a root filesystem."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import IO, Any

from cjm_docker.engine.connection import Connection
from cjm_docker.engine.translation import translated
from cjm_docker.engine_types import split_reference
from cjm_docker.errors import ImageError


class ImageCalls(Connection):
    """The engine's image calls (builds and commits make images: see builds.py, commits.py)."""

    def image_inspect(self, ref: str) -> dict[str, Any] | None:
        """The image's inspect document, or None when it is not present."""
        with translated(f"Cannot inspect image {ref}", absent=(404,)):
            return self.api.inspect_image(ref)
        return None

    def image_exists(self, ref: str) -> bool:
        """True when ``ref`` (a tag or an id) is present locally."""
        return self.image_inspect(ref) is not None

    def _present_id(self, ref: str, plugin: str | None = None) -> str:
        """The id of an image this engine just made; an error when it is already gone (removed
        from outside between the build and this call)."""
        inspected = self.image_inspect(ref)
        if inspected is None:
            raise ImageError(f"Image {ref} was removed right after it was built; build again.",
                             plugin=plugin)
        return str(inspected["Id"])

    def list_images(self, label: str | None = None) -> list[dict[str, Any]]:
        """Local images, optionally only those carrying ``label`` (``key`` or ``key=value``)."""
        filters = {"label": [label]} if label else None
        return self._call(self.api.images, filters=filters)

    def find_images(self, label: str, *, dangling: bool | None = None) -> list[dict[str, Any]]:
        """Every image carrying ``label`` (``key=value``), intermediate ones included."""
        filters: dict[str, Any] = {"label": [label]}
        if dangling is not None:
            filters["dangling"] = dangling
        return self._call(self.api.images, all=True, filters=filters)

    def tag_image(self, source: str, ref: str) -> None:
        """Give ``source`` the additional name ``ref`` (``repo:tag``)."""
        repo, tag = split_reference(ref)
        self._call(self.api.tag, source, repo, tag, force=True)

    def remove_image(self, ref: str, *, force: bool = False) -> bool:
        """Remove a tag (or an image); False when it was not there."""
        with translated(f"Cannot remove image {ref}", absent=(404,),
                        hint="A container may still use it: see `cjm-ctl ps`."):
            self.api.remove_image(ref, force=force, noprune=False)
            return True
        return False

    def pull(self, ref: str) -> None:
        """Pull ``ref``.

        Raises:
            ImageError: the registry could not be reached or has no such image.
        """
        repo, tag = split_reference(ref)
        with translated(f"Cannot pull {ref}", error=ImageError):
            for _ in self.api.pull(repo, tag=tag, stream=True, decode=True):
                pass
        if not self.image_exists(ref):
            raise ImageError(f"Pulling {ref} finished but the image is not present.")

    def import_rootfs(self, tar_stream: IO[bytes], ref: str, changes: list[str] | None = None,
                      on_bytes: Callable[[int], None] | None = None,
                      chunk_size: int = 1 << 20) -> str:
        """Import a root filesystem tarball as image ``ref``; returns the image id.

        The tarball is streamed (chunked upload), never held in memory; ``on_bytes`` is called
        with the byte count of each chunk sent (progress).
        """
        repo, tag = split_reference(ref)

        def chunks() -> Iterator[bytes]:
            while True:
                block = tar_stream.read(chunk_size)
                if not block:
                    return
                if on_bytes:
                    on_bytes(len(block))
                yield block

        result = self._call(self.api.import_image, src=chunks(), repository=repo, tag=tag,
                            changes=changes, stream_src=True)
        status = json.loads(result.strip().splitlines()[-1]) if isinstance(result, str) else result
        image_id = status.get("status", "") if isinstance(status, dict) else ""
        if not image_id.startswith("sha256:"):
            raise ImageError(f"Importing the root filesystem as {ref} failed: {result}")
        return image_id
