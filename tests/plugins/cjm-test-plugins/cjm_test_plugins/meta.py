"""Metadata in cjm-plugin-system's convention (the image's main plugin is ``Workbench``)."""

import os
import sys


def get_plugin_metadata() -> dict:
    return {
        "name": "cjm-test-workbench",
        "version": "0.1.0",
        "category": "testing",
        "type": "testing",
        "interface": "cjm_docker.interface.PluginInterface",
        "module": "cjm_test_plugins.plugins",
        "class": "Workbench",
        "python_path": sys.executable,
        "data_root_seen": os.environ.get("CJM_DATA_DIR", ""),
        "resources": {"requires_gpu": False, "min_system_ram_mb": 64},
        "env_vars": {"WORKBENCH_FLAG": "from-meta"},
    }
