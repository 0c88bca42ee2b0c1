"""The input edge: plugins.yaml and environment specs, validated once into frozen objects.

    load_plugins_file(path)   -> PluginsFile  (pydantic models; errors name file, plugin and key:
                                               problems.py words them)
    resolve_plugins(file)     -> [PluginSpec] (env files read or fetched, packages classified,
                                               flavor chosen; still no Docker)
"""

from __future__ import annotations

from cjm_docker.spec.environment import EnvironmentSpec, Flavor, parse_environment
from cjm_docker.spec.plugins_file import PluginEntry, PluginsFile, load_plugins_file
from cjm_docker.spec.resolve import PluginSpec, find_spec, resolve_plugins
from cjm_docker.spec.sources import LocalProject, PackageKind, PackageRef, parse_package

__all__ = [
    "EnvironmentSpec",
    "Flavor",
    "LocalProject",
    "PackageKind",
    "PackageRef",
    "PluginEntry",
    "PluginSpec",
    "PluginsFile",
    "find_spec",
    "load_plugins_file",
    "parse_environment",
    "parse_package",
    "resolve_plugins",
]
