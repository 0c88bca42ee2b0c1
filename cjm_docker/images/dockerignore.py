"""A plugin folder's ``.dockerignore``: which files stay out of its build context.

A plugin folder often holds what must not be baked into an image: model weights, datasets,
notebooks' outputs. ``docker build`` honours ``.dockerignore``; cjm-docker assembles the
context itself, so it reads the file with the same rules:

- one pattern per line; ``#`` starts a comment line; blank lines are skipped;
- a pattern is a path relative to the folder (a leading ``/`` is dropped) in Go's
  ``filepath.Match`` syntax (``*``, ``?``, ``[...]``) plus ``**`` for any number of folders;
- a pattern that matches a folder excludes everything under it;
- ``!pattern`` re-includes; the last matching line decides.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

IGNORE_FILE = ".dockerignore"


@dataclass(frozen=True)
class _Rule:
    regex: re.Pattern[str]
    include: bool      # a "!" line: re-include what earlier lines excluded


def _translate(pattern: str) -> re.Pattern[str]:
    """Go's filepath.Match syntax (plus ``**``) as a regex over a whole relative path."""
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):   # "**/": zero or more folders
                i += 1
                out.append("(?:.*/)?")
            else:
                out.append(".*")
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1:end]
                body = "^" + body[1:] if body.startswith("^") else body
                out.append(f"[{body}]")
                i = end
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out))


class DockerIgnore:
    """The rules of one ``.dockerignore`` (no file: nothing is ignored)."""

    def __init__(self, lines: list[str]):
        self.rules: list[_Rule] = []
        for raw in lines:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            include = line.startswith("!")
            pattern = line[1:].strip() if include else line
            pattern = posixpath.normpath(pattern.lstrip("/")) if pattern.lstrip("/") else ""
            if pattern and pattern != ".":
                self.rules.append(_Rule(_translate(pattern), include))

    @classmethod
    def of_folder(cls, root: Path) -> DockerIgnore:
        path = root / IGNORE_FILE
        try:
            return cls(path.read_text(encoding="utf-8", errors="replace").splitlines())
        except OSError:
            return cls([])

    def __bool__(self) -> bool:
        return bool(self.rules)

    def ignored(self, relative: str) -> bool:
        """True when the file (or folder) at this POSIX relative path stays out."""
        parts = relative.split("/")
        prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
        verdict = False
        for rule in self.rules:
            # A rule that matches a parent folder covers everything under it.
            if any(rule.regex.fullmatch(prefix) for prefix in prefixes):
                verdict = not rule.include
        return verdict
