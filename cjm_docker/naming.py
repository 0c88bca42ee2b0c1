"""A plugin's two names, and the one way every command and API call resolves them.

A plugin answers to its plugins.yaml entry name (``echo``) and to the name its own metadata
gives (``cjm-example-echo``, which keys its manifest and labels its containers). Users type
either, so every lookup goes through ``pick``, and every "no such plugin" goes through
``unknown_plugin``: it lists the names a user can type and suggests near misses.

Lookup order: an exact metadata name, then an exact plugins.yaml name, then either name
compared without case. An exact name always wins over a case-folded one, so two plugins that
differ only in case stay reachable.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from typing import TypeVar

from cjm_docker.errors import UnknownPluginError

T = TypeVar("T")
# Past this many, the listing is cut: an error stays one readable paragraph.
LISTED_NAMES = 20


def pick(name: str, items: Iterable[T], names: Callable[[T], tuple[str, str]]) -> T | None:
    """The item that answers to ``name``.

    Args:
        items: the candidates (manifests, metas, containers...).
        names: an item's (metadata name, plugins.yaml name); either may be empty.
    """
    rows = [(item, *names(item)) for item in items]
    for index in (1, 2):
        found = next((row[0] for row in rows if row[index] and row[index] == name), None)
        if found is not None:
            return found
    folded = name.casefold()
    return next((row[0] for row in rows
                 if folded in {n.casefold() for n in row[1:] if n}), None)


def typable(pairs: Iterable[tuple[str, str]]) -> list[str]:
    """Every name a user can type for these (metadata name, plugins.yaml name) pairs."""
    return sorted({n for pair in pairs for n in pair if n})


def near_misses(name: str, choices: Iterable[str], limit: int = 3) -> list[str]:
    """Choices close to ``name`` (difflib's ratio, case ignored), best first."""
    by_folded: dict[str, str] = {}
    for choice in choices:
        by_folded.setdefault(choice.casefold(), choice)
    close = difflib.get_close_matches(name.casefold(), list(by_folded), n=limit, cutoff=0.6)
    prefixed = [c for c in by_folded if c.startswith(name.casefold()) and name and c not in close]
    return [by_folded[c] for c in [*close, *prefixed][:limit]]


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """`` Did you mean 'echo'?`` (with a leading space), or an empty string."""
    close = near_misses(name, choices)
    if not close:
        return ""
    return " Did you mean " + " or ".join(f"'{c}'" for c in close) + "?"


def listing(choices: Iterable[str]) -> str:
    """``a, b, c`` (cut after ``LISTED_NAMES``), or ``none``."""
    names = sorted(set(choices))
    if not names:
        return "none"
    shown = ", ".join(names[:LISTED_NAMES])
    return shown + (f" and {len(names) - LISTED_NAMES} more" if len(names) > LISTED_NAMES else "")


def unknown_plugin(name: str, choices: Iterable[str], *, where: str,
                   hint: str | None = None) -> UnknownPluginError:
    """The error for a name no plugin answers to.

    Args:
        choices: every name the user could have typed (both names of each plugin).
        where: what was searched, e.g. ``installed in /x/manifests`` or ``in plugins.yaml``.
    """
    choices = list(choices)
    return UnknownPluginError(
        f"No plugin named '{name}' {where}.{did_you_mean(name, choices)} "
        f"Known: {listing(choices)}.", plugin=name, hint=hint)
