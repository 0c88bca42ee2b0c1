"""Call arguments on their way into a container: files cross by mount, never through HTTP.

A ``FileBackedDTO`` writes itself to a file; a private link or copy of it is placed in the
container's own exchange folder (see ``cjm_docker.host.exchange``), mounted read-only at the
same absolute path in that container only, and only the path string crosses the wire. A
``Path`` argument must already lie in a folder the container can see.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path, PurePath
from typing import Any

from cjm_docker.codec import Walk, plain_call
from cjm_docker.errors import ArgumentError, EncodingError, PathNotVisibleError, PluginError
from cjm_docker.host.exchange import call_started, place
from cjm_docker.interface import FileBackedDTO

__all__ = ["PreparedCall", "plain_call"]


class PreparedCall(Walk):
    """Arguments ready for the wire, plus the exchange files to delete after the call.

    The codec's rules walk each argument (``cjm_docker.codec``); what they do not cover is
    handled here: a path the container can see crosses as its string, a FileBackedDTO as the
    path of its file in the exchange folder, and everything else is refused before anything is
    sent (``ArgumentError`` naming where it sits).
    """

    def __init__(self, exchange: Path, visible: Sequence[Path], plugin: str,
                 exchange_root: Path | None = None):
        super().__init__()
        self.exchange = exchange
        self.exchange_root = exchange_root or exchange
        self._visible = visible
        self.plugin = plugin
        self.created: list[Path] = []

    @cached_property
    def visible(self) -> list[Path]:
        # Resolved only when an argument needs it: the hot path never touches the disk.
        return [p.resolve() for p in self._visible]

    def body(self, args: tuple, kwargs: dict) -> dict[str, Any]:
        plain = plain_call(args, kwargs)
        if plain is not None:
            return plain
        try:
            out_args = [self._root(value, f"args[{index}]") for index, value in enumerate(args)]
            return {"args": out_args,
                    "kwargs": {k: self._root(v, f"kwargs[{k!r}]") for k, v in kwargs.items()}}
        except BaseException:
            self.discard()  # files placed for earlier arguments go too
            raise

    def _root(self, value: Any, name: str) -> Any:
        try:
            return self.convert(value, name)
        except EncodingError as refused:
            raise ArgumentError(
                f"Argument {refused.path} for plugin '{self.plugin}' "
                f"{refused.message[len(refused.path) + 1:]}; nothing was sent.", plugin=self.plugin,
                hint="Pass JSON-compatible values (str, numbers, lists, dicts with string "
                     "keys); large or binary data as a FileBackedDTO.") from None

    def other(self, value: Any, depth: int) -> Any:
        if isinstance(value, PurePath):
            return self._visible_path(Path(value))
        if isinstance(value, FileBackedDTO) and not isinstance(value, type):
            since = call_started()
            return self._exchange_file(Path(value.to_temp_file()), since)
        return super().other(value, depth)

    def _visible_path(self, path: Path) -> str:
        resolved = path.resolve()
        if any(resolved == root or root in resolved.parents for root in self.visible):
            return str(resolved)
        roots = ", ".join(str(r) for r in self.visible)
        raise PathNotVisibleError(
            f"Path {path} is not visible inside the container of plugin '{self.plugin}'.",
            plugin=self.plugin,
            hint=f"Pass files as FileBackedDTO objects, or put them under one of: {roots}.")

    def _exchange_file(self, source: Path, since_ns: int) -> str:
        if not source.is_absolute():
            source = source.absolute()
        if any(root in source.resolve().parents for root in self.visible):
            return str(source.resolve())   # already where the container reads it
        try:
            self.exchange.mkdir(mode=0o700, parents=True, exist_ok=True)
            target = place(source, since_ns, self.exchange, self.exchange_root)
        except OSError as exc:   # e.g. the exchange folder is full: no partial copy is left
            raise PluginError(
                f"Cannot place {source} in the exchange folder {self.exchange} of plugin "
                f"'{self.plugin}': {exc.strerror or exc}.", plugin=self.plugin,
                hint="Free space in the data dir's exchange/ folder, and check that the file "
                     "exists.") from exc
        self.created.append(target)
        return str(target)

    def discard(self) -> None:
        """Delete the exchange files this call created."""
        for path in self.created:
            path.unlink(missing_ok=True)
        self.created.clear()
