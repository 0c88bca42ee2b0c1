"""Manifest metadata, in cjm-plugin-system's convention (read by `cjm-ctl install-all`)."""

from __future__ import annotations

from typing import Any


def get_plugin_metadata() -> dict[str, Any]:
    """Return metadata required to register this plugin with the PluginManager."""
    return {
        "name": "cjm-example-fileinfo",
        "version": "0.1.0",
        "description": "MIME type (file --mime-type) and size of a file.",
        "author": "cjm-docker",
        "type": "example",
        "category": "files",
        "interface": "cjm_docker.interface.PluginInterface",
        "module": "cjm_example_fileinfo.plugin",
        "class": "FileInfoPlugin",
        "resources": {"requires_gpu": False, "min_system_ram_mb": 64},
        "env_vars": {},
    }
