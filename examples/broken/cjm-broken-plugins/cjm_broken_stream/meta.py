"""Manifest metadata (cjm-plugin-system's convention)."""

from cjm_broken_common import metadata


def get_plugin_metadata() -> dict:
    return metadata("cjm-broken-stream", "cjm_broken_stream.plugin", "EndlessStream", "Streams forever.")
