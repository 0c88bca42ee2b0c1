"""Manifest metadata, in cjm-plugin-system's convention (read by `cjm-ctl install-all`)."""

from __future__ import annotations

import os
from typing import Any

PLUGIN_NAME = "cjm-example-echo"


def data_dir() -> str:
    """This plugin's data folder: $CJM_PLUGIN_DATA_DIR, else $CJM_DATA_DIR/<name>."""
    explicit = os.environ.get("CJM_PLUGIN_DATA_DIR")
    if explicit:
        return explicit
    return os.path.join(os.environ.get("CJM_DATA_DIR", os.path.expanduser("~/.cjm/data")),
                        PLUGIN_NAME)


def get_plugin_metadata() -> dict[str, Any]:
    """Return metadata required to register this plugin with the PluginManager."""
    return {
        "name": PLUGIN_NAME,
        "version": "0.1.0",
        "description": "Echoes and transforms text; shows progress, cancel and streaming.",
        "author": "cjm-docker",
        "type": "example",
        "category": "text",
        "interface": "cjm_docker.interface.PluginInterface",
        "module": "cjm_example_echo.plugin",
        "class": "EchoPlugin",
        "history_path": os.path.join(data_dir(), "history.log"),
        "resources": {"requires_gpu": False, "min_system_ram_mb": 64},
        "env_vars": {"OMP_NUM_THREADS": "1"},
    }
