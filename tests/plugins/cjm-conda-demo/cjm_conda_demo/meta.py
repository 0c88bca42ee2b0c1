"""Manifest metadata, in cjm-plugin-system's convention."""

from __future__ import annotations

from typing import Any


def get_plugin_metadata() -> dict[str, Any]:
    return {"name": "cjm-conda-demo", "version": "0.1.0", "category": "test",
            "description": "Greets with a conda package's data and module, titled by a pip one.",
            "module": "cjm_conda_demo.plugin", "class": "CondaDemoPlugin"}
