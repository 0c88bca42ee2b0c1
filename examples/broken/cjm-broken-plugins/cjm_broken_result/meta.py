"""Manifest metadata (cjm-plugin-system's convention)."""

from cjm_broken_common import metadata


def get_plugin_metadata() -> dict:
    return metadata("cjm-broken-result", "cjm_broken_result.plugin", "UnencodableResult", "Returns a result JSON cannot carry.")
