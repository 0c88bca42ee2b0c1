"""The one name rule: what a plugin may call itself, and the only way a name becomes a host path.

A plugin's name comes from plugins.yaml (the user's) and from the plugin's own metadata (not the
user's: whatever the container printed). Both end up in host paths (``manifests/<name>.json``,
``data/<name>/``, the runtime folder) and in Docker names, so both pass the same rule at every
boundary: plugins.yaml, introspection, manifests read from disk, the API and the CLI.

The rule: letters and digits, with single ``.``/``_``, ``__`` or runs of ``-`` between them
(what an image repository accepts), matched on the whole string (``fullmatch``: a ``$`` would
let a trailing newline through), at most ``MAX_NAME_LENGTH`` characters so that a socket path
built from it stays under the kernel's 107 bytes and a file name under 255.
"""

from __future__ import annotations

import re
from pathlib import Path

from cjm_docker.errors import InvalidNameError

MAX_NAME_LENGTH = 64
NAME_PATTERN = r"[A-Za-z0-9]+(?:(?:[._]|__|-+)[A-Za-z0-9]+)*"
_NAME = re.compile(NAME_PATTERN)

RULE = (f"letters and digits with single '.', '_' or '-' between them, at most "
        f"{MAX_NAME_LENGTH} characters")


def name_problem(name: object) -> str | None:
    """Why ``name`` breaks the rule, or None when it is a valid plugin name."""
    if not isinstance(name, str):
        return f"a name must be a string, not {type(name).__name__}"
    if len(name) > MAX_NAME_LENGTH:
        return f"{name[:20]!r}... has {len(name)} characters (at most {MAX_NAME_LENGTH})"
    if _NAME.fullmatch(name) is None:
        return f"{name!r} is not a usable name: use {RULE}"
    return None


def check_name(name: object, *, source: str = "plugin name") -> str:
    """``name`` when it is valid.

    Raises:
        InvalidNameError: it breaks the rule (the message says where it came from and why).
    """
    problem = name_problem(name)
    if problem is not None:
        raise InvalidNameError(f"Refused the {source}: {problem}.", plugin=None,
                               hint="A name becomes a folder and a Docker name; nothing "
                                    "outside the rule is ever used as one.")
    return name  # type: ignore[return-value]


def path_for(root: Path, name: str, suffix: str = "") -> Path:
    """``root / (name + suffix)`` for a checked name, verified to stay directly under ``root``.

    ``root`` itself is the user's (the data dir); the check holds against a name that slipped
    past the rule and against a symlink planted where the entry should be.

    Raises:
        InvalidNameError: the name breaks the rule, or the path would leave ``root``.
    """
    check_name(name)
    path = root / f"{name}{suffix}"
    resolved_root = root.resolve()
    if path.parent.resolve() != resolved_root or path.is_symlink():
        raise InvalidNameError(f"Refused the path {path}: it does not lie directly in {root}.",
                               hint="Remove the symlink or the odd entry there.")
    return path
