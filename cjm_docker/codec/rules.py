"""The codec's structural rules, walked once: which values cross as they are, how deep they
may nest, which dict keys are allowed, and where a refused value sits.

``Walk`` applies the rules; each path says what to do with a value they do not cover by
overriding ``other`` (the host places a FileBackedDTO, the journal tags a path, the worker
lowers a dataclass). A refusal learns where it sits on its way out, so a value that passes pays
nothing for the naming.
"""

from __future__ import annotations

from typing import Any, NoReturn

from cjm_docker.errors import EncodingError

PLAIN = (str, int, float, bool, type(None))
#: How deeply values may nest (lists and dicts in each other). Far above any real argument, far
#: below the interpreter's recursion limit, so the walk and both JSON codecs stay safe.
MAX_NESTING = 200
KEY_RULE = "keys must be strings or numbers"


class Refusal(Exception):
    """A value the codec will not carry. ``where`` fills in as it propagates out of a walk."""

    def __init__(self, problem: str, type_name: str = "") -> None:
        super().__init__(problem)
        self.problem = problem
        self.type_name = type_name
        self.where: list[str] = []

    def path(self, root: str) -> str:
        """Where the value sits, e.g. ``args[0]['k'][2]``."""
        return root + "".join(self.where)

    def error(self, root: str) -> EncodingError:
        """The typed error naming where the value sits under ``root``."""
        path = self.path(root)
        return EncodingError(f"{path} {self.problem}", path=path, type_name=self.type_name)


def type_name(value: Any) -> str:
    return type(value).__name__


def refuse(value: Any) -> NoReturn:
    """Raise the refusal for a value JSON cannot carry."""
    name = type_name(value)
    raise Refusal(f"is {article(name)} {name}, which JSON cannot carry", name)


def article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def all_plain(args: tuple | list, kwargs: dict[str, Any]) -> bool:
    """Whether every argument is a plain scalar (nothing to walk, convert or place).

    Plain loops, not ``all()``: this runs on every call, and a generator costs more."""
    for value in args:
        if type(value) not in PLAIN:
            return False
    for value in kwargs.values():  # noqa: SIM110 (hot path, see above)
        if type(value) not in PLAIN:
            return False
    return True


def plain_call(args: tuple | list, kwargs: dict[str, Any]) -> dict[str, Any] | None:
    """The call body when every argument is a plain scalar (the hot path), else None."""
    return {"args": list(args), "kwargs": kwargs} if all_plain(args, kwargs) else None


class Walk:
    """Apply the rules to a value: its JSON form (lists for tuples), or a ``Refusal``.

    Args:
        escape: journal form: a one-key dict whose key starts with ``$`` gains one ``$``, so
            that no caller value reads back as a tag.
        limit: the deepest nesting allowed (None: only the interpreter's own limit, for
            describing a value that already failed elsewhere).
    """

    def __init__(self, *, escape: bool = False, limit: int | None = MAX_NESTING) -> None:
        self.escape = escape
        self.limit = limit
        self._active: set[int] = set()  # containers being walked: a repeat is a cycle

    def convert(self, value: Any, root: str) -> Any:
        """``value``'s JSON form.

        Raises:
            EncodingError: naming where the refused value sits under ``root``.
        """
        self._active.clear()  # a refusal leaves its containers marked
        try:
            return self.value(value, 0)
        except Refusal as refusal:
            raise refusal.error(root) from None

    def value(self, value: Any, depth: int) -> Any:
        if type(value) in PLAIN:
            return value
        if self.limit is not None and depth >= self.limit:
            raise Refusal(f"is nested more than {self.limit} levels deep")
        if isinstance(value, (list, tuple)):
            self._enter(value)
            items = [self._item(item, depth, index) for index, item in enumerate(value)]
            self._active.discard(id(value))
            return items
        if isinstance(value, dict):
            self._enter(value)
            mapping = self._mapping(value, depth)
            self._active.discard(id(value))
            return mapping
        if isinstance(value, (str, int, float)):  # subclasses: a str enum, an int flag
            return value
        return self.other(value, depth)

    def other(self, value: Any, depth: int) -> Any:
        """The JSON form of a value the rules do not cover; refused unless a path says so."""
        refuse(value)

    def _item(self, item: Any, depth: int, key: Any) -> Any:
        try:
            return self.value(item, depth + 1)
        except Refusal as refusal:
            refusal.where.insert(0, f"[{key!r}]")  # built only on the way out
            raise

    def _mapping(self, value: dict, depth: int) -> dict[Any, Any]:
        for key in value:
            if type(key) not in PLAIN and not isinstance(key, (str, int, float)):
                name = type_name(key)
                raise Refusal(f"has a key {key!r:.80} of type {name}; {KEY_RULE}", name)
        if self.escape and len(value) == 1:
            (key, item), = value.items()
            if isinstance(key, str) and key.startswith("$"):
                return {"$" + key: self._item(item, depth, key)}
        return {key: self._item(item, depth, key) for key, item in value.items()}

    def _enter(self, container: Any) -> None:
        if id(container) in self._active:
            raise Refusal("refers back to a containing value (a circular reference)")
        self._active.add(id(container))
