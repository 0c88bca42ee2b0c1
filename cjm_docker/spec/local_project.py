"""What a local plugin folder declares, whichever way it is packaged.

Plugin authors package with setuptools (``pyproject.toml`` only, ``setup.py`` only,
``setup.cfg``, nbdev's ``settings.ini`` read by ``setup.py``, ``src/`` layouts), hatchling,
flit-core, poetry-core or pdm-backend. The image build hands the folder to pip with PEP 517
build isolation, so the backend itself always does the building; this module only reads what
cjm-docker needs before that: the distribution name (to find ``<module>.meta``) and the
dependencies when they are static (to install them in a cached layer of their own).
"""

from __future__ import annotations

import ast
import configparser
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cjm_docker.spec.location import Location

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 hosts need tomli
    import tomli as tomllib

# What pip assumes for a project without [build-system] (PEP 518's legacy default).
DEFAULT_BUILD_REQUIRES = ("setuptools>=40.8.0", "wheel")
PACKAGING_FILES = ("pyproject.toml", "setup.py", "setup.cfg")


@dataclass(frozen=True)
class LocalProject:
    """What a local project declares.

    Attributes:
        name: the distribution name; None when only running its build could tell (a
            ``setup.py`` that computes it), in which case ``<module>.meta`` is found by looking.
        dependencies: ``[project].dependencies`` when static; None when dynamic or declared
            in a backend's own format (setup.py, setup.cfg, settings.ini, [tool.poetry]), in
            which case the build installs them with the package.
        build_requires: ``[build-system].requires`` (pip's default for setuptools without it).
    """

    name: str | None
    dependencies: tuple[str, ...] | None
    build_requires: tuple[str, ...]


def read_local_project(path: Path, where: Location) -> LocalProject:
    """Read a local package folder's packaging files.

    Raises:
        SpecError: the folder has no packaging file at all, or its pyproject.toml is not TOML.
    """
    if not any((path / name).is_file() for name in PACKAGING_FILES):
        raise where.error(
            f"the local package {path} has no pyproject.toml, setup.py or setup.cfg, so pip "
            "cannot build it.", hint="Add a pyproject.toml with [build-system] and [project].")
    doc = _pyproject(path, where)
    project = doc.get("project") or {}
    build = doc.get("build-system") or {}
    requires = tuple(str(r) for r in build.get("requires") or DEFAULT_BUILD_REQUIRES)
    name = project.get("name")
    if isinstance(name, str) and name:
        dynamic = set(project.get("dynamic") or [])
        deps = project.get("dependencies")
        static = None if "dependencies" in dynamic else tuple(str(d) for d in deps or [])
        return LocalProject(name=name, dependencies=static, build_requires=requires)
    return LocalProject(name=_legacy_name(path, doc), dependencies=None, build_requires=requires)


def _pyproject(path: Path, where: Location) -> dict[str, Any]:
    pyproject = path / "pyproject.toml"
    if not pyproject.is_file():
        return {}
    try:
        return tomllib.loads(pyproject.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise where.error(f"cannot read {pyproject}: {exc}.") from exc


def _legacy_name(path: Path, doc: dict[str, Any]) -> str | None:
    """The name from a backend's own format: [tool.poetry], setup.cfg, nbdev's settings.ini,
    or a literal ``name=`` in setup.py (never executed: it is the plugin author's code)."""
    poetry = (doc.get("tool") or {}).get("poetry") or {}
    if isinstance(poetry.get("name"), str) and poetry["name"]:
        return str(poetry["name"])
    for file, section, key in (("setup.cfg", "metadata", "name"),
                               ("settings.ini", "DEFAULT", "lib_name")):
        value = _ini_value(path / file, section, key)
        if value:
            return value
    return _setup_py_name(path / "setup.py")


def _ini_value(file: Path, section: str, key: str) -> str | None:
    if not file.is_file():
        return None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(file.read_text())
        value = parser.get(section, key, fallback="").strip()
    except (OSError, UnicodeDecodeError, configparser.Error):
        return None
    return value if value and "%" not in value and "{" not in value else None


def _setup_py_name(file: Path) -> str | None:
    if not file.is_file():
        return None
    try:
        tree = ast.parse(file.read_text())
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(
                node.func, "attr", None)) == "setup":
            for keyword in node.keywords:
                if (keyword.arg == "name" and isinstance(keyword.value, ast.Constant)
                        and isinstance(keyword.value.value, str)):
                    return keyword.value.value
    return None
