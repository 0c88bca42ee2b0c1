"""Environment specs (conda's ``environment.yml``, or a conda lock file) and the image flavor.

An environment spec lists ``channels``, conda ``dependencies`` and a ``pip:`` section; a lock
file (``@EXPLICIT``, conda-lock, pixi.lock: ``conda_locks``) pins exact packages instead. Conda
packages need a conda flavor: rattler (the default: py-rattler links them into the plain Python
base's venv, no registry needed) or micromamba (its image, which must be pulled). A spec with
only ``python``, ``pip`` and a pip section (or no spec at all) builds on the plain Python flavor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

import yaml

from cjm_docker.spec.conda_locks import CondaLock, parse_lock
from cjm_docker.spec.location import Location

_ALLOWED_KEYS = ("name", "channels", "dependencies", "prefix", "variables")
# Conda names the interpreter and pip like any package; they do not make a spec "conda".
_IMPLICIT = {"python", "pip"}
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MATCH_NAME = re.compile(r"^\s*(?:[A-Za-z0-9_.-]+::)?([A-Za-z0-9_][A-Za-z0-9_.-]*)\s*(.*)$")
_EXACT_MINOR = re.compile(r"^\s*=?=?\s*(\d+)\.(\d+)(?:\.(?:\d+|\*))?\s*$")


class Flavor(str, Enum):
    """Which base an image builds on."""

    PYTHON = "python"          # cjm-docker/base-python:<X.Y>, a venv at /opt/venv
    RATTLER = "rattler"        # the same base and venv, conda packages linked in by py-rattler
    MICROMAMBA = "micromamba"  # cjm-docker/base-micromamba, a conda env "plugin"

    @property
    def conda(self) -> bool:
        """True for the flavors that install conda packages."""
        return self is not Flavor.PYTHON


@dataclass(frozen=True)
class EnvironmentSpec:
    """A parsed environment spec.

    Attributes:
        source: the path or URL it came from (for messages).
        channels: conda channels, in order.
        conda_dependencies: conda match specs other than python and pip.
        pip_dependencies: the ``pip:`` section.
        python: the constraint on ``python`` as written (``"=3.11"``), or None.
        variables: the ``variables:`` section (set as ENV in the image).
        lock: the pinned packages, when the spec is a lock file (then ``conda_dependencies``
            is empty and ``pip_dependencies`` holds the lock's PyPI pins).
    """

    source: str
    channels: tuple[str, ...] = ()
    conda_dependencies: tuple[str, ...] = ()
    pip_dependencies: tuple[str, ...] = ()
    python: str | None = None
    variables: tuple[tuple[str, str], ...] = ()
    lock: CondaLock | None = None

    @property
    def needs_conda(self) -> bool:
        """True when a dependency can only come from a conda channel."""
        return bool(self.conda_dependencies) or self.lock is not None

    @property
    def flavor(self) -> Flavor:
        """The flavor this spec selects on its own (rattler for conda packages: it needs no
        image from a registry)."""
        return Flavor.RATTLER if self.needs_conda else Flavor.PYTHON

    def python_minor(self) -> str | None:
        """``"3.11"`` when the spec pins major.minor exactly, else None."""
        if self.python is None:
            return None
        match = _EXACT_MINOR.match(self.python)
        return f"{match.group(1)}.{match.group(2)}" if match else None

    def conda_file(self, python_version: str, channels: tuple[str, ...] | None = None) -> str:
        """The spec as micromamba reads it: conda part only (pip is installed separately), with
        python and pip present, keys sorted so the text is byte-stable.

        Args:
            channels: the channels as the build reaches them (mirrors, copies of local
                channels); default: the spec's own.
        """
        python = f"python{self.python}" if self.python else f"python={python_version}"
        doc: dict[str, Any] = {
            "channels": list(channels if channels is not None else self.channels) or ["conda-forge"],
            "dependencies": [python, "pip", *self.conda_dependencies],
        }
        return yaml.safe_dump(doc, sort_keys=True, default_flow_style=False)


def _string_list(value: Any, where: Location) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise where.error(f"must be a list of strings, not {type(value).__name__}.")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, str | int | float) or isinstance(item, bool) or not str(item).strip():
            raise where.error(f"item {i + 1} must be a non-empty string, not {item!r}.")
        text = str(item).strip()
        if any(c in text for c in "\n\r\0"):
            raise where.error(f"item {i + 1} contains a line break or NUL: {text!r}.")
        out.append(text)
    return tuple(out)


def parse_environment(text: str, where: Location) -> EnvironmentSpec:
    """Parse an environment spec's text.

    Args:
        text: the YAML text.
        where: the env file (and the plugin that names it), for messages.

    Raises:
        SpecError: malformed YAML, unknown keys, or entries of the wrong shape.
    """
    lock = parse_lock(text, where)
    if lock is not None:
        return EnvironmentSpec(source=where.file, pip_dependencies=lock.pip, python=lock.python,
                               lock=lock)
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise where.error(f"the environment spec is not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise where.error("an environment spec must be a mapping with 'dependencies' "
                          f"(and optionally 'channels'), not {type(doc).__name__}.")
    unknown = sorted(set(map(str, doc)) - set(_ALLOWED_KEYS))
    if unknown:
        raise where.error(f"unknown key(s) {', '.join(map(repr, unknown))} in the environment spec "
                          f"(allowed: {', '.join(_ALLOWED_KEYS)}).")
    channels = _string_list(doc.get("channels"), where.at("channels"))
    deps = doc.get("dependencies")
    if deps is None:
        deps = []
    if not isinstance(deps, list):
        raise where.at("dependencies").error(f"must be a list, not {type(deps).__name__}.")
    conda: list[str] = []
    pip: list[str] = []
    python: str | None = None
    for i, item in enumerate(deps):
        if isinstance(item, dict):
            if set(item) != {"pip"}:
                raise where.at("dependencies").error(
                    f"item {i + 1} is a mapping with keys {sorted(map(str, item))}; only "
                    "'pip' (a list of pip requirements) may appear there.")
            pip.extend(_string_list(item["pip"], where.at("dependencies.pip")))
            continue
        (spec,) = _string_list([item], where.at("dependencies"))
        match = _MATCH_NAME.match(spec)
        if match is None:
            raise where.at("dependencies").error(f"item {i + 1} {spec!r} is not a conda match spec.")
        name, rest = match.group(1).lower(), match.group(2).strip()
        if name == "python":
            python = rest or None
        elif name not in _IMPLICIT:
            conda.append(spec)
    variables = doc.get("variables") or {}
    if not isinstance(variables, dict):
        raise where.at("variables").error("must be a mapping of names to values.")
    for key, value in variables.items():  # they become ENV lines of the Dockerfile
        if not isinstance(key, str) or not _VARIABLE.fullmatch(key):
            raise where.at("variables").error(f"{key!r} is not a variable name (letters, digits "
                                              "and '_', not starting with a digit).")
        if _CONTROL.search(str(value)):
            raise where.at(f"variables.{key}").error(
                "the value contains a line break or another control character.")
    return EnvironmentSpec(
        source=where.file, channels=channels, conda_dependencies=tuple(conda),
        pip_dependencies=tuple(pip), python=python,
        variables=tuple(sorted((str(k), str(v)) for k, v in variables.items())),
    )
