"""Manifest metadata (cjm-plugin-system's convention)."""

from cjm_broken_common import metadata


def get_plugin_metadata() -> dict:
    return metadata("cjm-broken-init", "cjm_broken_init.plugin", "CrashOnInit", "Raises in initialize.")
