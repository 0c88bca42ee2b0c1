"""Manifest metadata (cjm-plugin-system's convention)."""

from cjm_broken_common import metadata


def get_plugin_metadata() -> dict:
    return metadata("cjm-broken-schema", "cjm_broken_schema.plugin", "BadSchema", "Publishes a config schema that is not valid JSON Schema.")
