"""What `cjm-ctl install-all` reads: this plugin's metadata (cjm-plugin-system's convention)."""

from __future__ import annotations

from typing import Any


def get_plugin_metadata() -> dict[str, Any]:
    """The manifest of this plugin: who it is, and which class the worker hosts."""
    return {
        "name": "cjm-example-wordcount",
        "version": "0.1.0",
        "description": "Counts words in a text or a file; streams counts line by line.",
        "author": "cjm-docker",
        "category": "text",
        "interface": "cjm_docker.interface.PluginInterface",
        "module": "cjm_example_wordcount.plugin",
        "class": "WordCountPlugin",
        "resources": {"requires_gpu": False, "min_system_ram_mb": 64},
    }
