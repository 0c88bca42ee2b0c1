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

from cjm_docker.errors import ArgumentError, PathNotVisibleError, PluginError
from cjm_docker.host.exchange import call_started, place
from cjm_docker.interface import FileBackedDTO

_PLAIN = (str, int, float, bool, type(None))
#: How deeply arguments may nest (lists and dicts in each other). Far above any real argument,
#: far below the interpreter's recursion limit, so the walk and both JSON codecs stay safe.
MAX_NESTING = 200


def plain_body(args: tuple, kwargs: dict) -> dict[str, Any] | None:
    """The request body when every argument is a plain JSON scalar (the hot path: nothing to
    convert, no file to place), else None."""
    for value in args:
        if type(value) not in _PLAIN:
            return None
    for value in kwargs.values():
        if type(value) not in _PLAIN:
            return None
    return {"args": list(args), "kwargs": kwargs}


class _Refused(Exception):
    """An argument JSON cannot carry (``where`` fills in as it propagates out)."""

    def __init__(self, problem: str):
        super().__init__(problem)
        self.problem = problem
        self.where: list[str] = []


class PreparedCall:
    """Arguments ready for the wire, plus the exchange files to delete after the call."""

    def __init__(self, exchange: Path, visible: Sequence[Path], plugin: str,
                 exchange_root: Path | None = None):
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
        plain = plain_body(args, kwargs)
        if plain is not None:
            return plain
        try:
            out_args = []
            for index, value in enumerate(args):
                out_args.append(self._root(value, f"args[{index}]"))
            return {"args": out_args,
                    "kwargs": {k: self._root(v, f"kwargs[{k!r}]") for k, v in kwargs.items()}}
        except BaseException:
            self.discard()  # files placed for earlier arguments go too
            raise

    def _root(self, value: Any, name: str) -> Any:
        try:
            return self._convert(value, 0)
        except _Refused as refused:
            where = name + "".join(refused.where)
            raise ArgumentError(
                f"Argument {where} for plugin '{self.plugin}' {refused.problem}; nothing was "
                "sent.", plugin=self.plugin,
                hint="Pass JSON-compatible values (str, numbers, lists, dicts with string "
                     "keys); large or binary data as a FileBackedDTO.") from None

    def _convert(self, value: Any, depth: int) -> Any:
        """``value`` as JSON can carry it. Anything JSON cannot hold is refused here, before
        the request is encoded; the refusal learns where it sits on its way out."""
        if type(value) in _PLAIN:
            return value
        if depth >= MAX_NESTING:
            raise _Refused(f"is nested more than {MAX_NESTING} levels deep")
        if isinstance(value, PurePath):
            return self._visible_path(Path(value))
        if isinstance(value, FileBackedDTO) and not isinstance(value, type):
            since = call_started()
            return self._exchange_file(Path(value.to_temp_file()), since)
        if isinstance(value, (list, tuple)):
            items = []
            for index, item in enumerate(value):
                try:
                    items.append(self._convert(item, depth + 1))
                except _Refused as refused:
                    refused.where.insert(0, f"[{index}]")
                    raise
            return items
        if isinstance(value, dict):
            converted = {}
            for key, item in value.items():
                if not isinstance(key, _PLAIN):
                    raise _Refused(f"has a key {key!r:.80} of type {type(key).__name__}; "
                                   "keys must be strings or numbers")
                try:
                    converted[key] = self._convert(item, depth + 1)
                except _Refused as refused:
                    refused.where.insert(0, f"[{key!r}]")
                    raise
            return converted
        if isinstance(value, (str, int, float)):  # subclasses (a str enum, an int flag)
            return value
        raise _Refused(f"is a {type(value).__qualname__}, which JSON cannot carry")

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
