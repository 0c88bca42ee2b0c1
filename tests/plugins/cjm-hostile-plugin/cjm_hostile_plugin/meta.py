"""Metadata whose name the test chooses (``HOSTILE_NAME`` in plugins.yaml ``env``): ``..``,
another plugin's name, or a plain one."""

import os


def get_plugin_metadata() -> dict:
    return {
        "name": os.environ.get("HOSTILE_NAME", "cjm-test-hostile"),
        "version": "0.1.0",
        "category": "testing",
        "module": "cjm_hostile_plugin.plugin",
        "class": "Hostile",
    }
