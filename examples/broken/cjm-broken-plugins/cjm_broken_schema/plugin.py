"""A config schema with a misspelt type ('integr'): not valid JSON Schema."""

from typing import Any

from cjm_broken_common import WorkingPlugin


class BadSchema(WorkingPlugin):
    plugin_name = "cjm-broken-schema"

    def get_config_schema(self) -> dict[str, Any]:
        return {"name": "BadSchemaConfig", "type": "object",
                "properties": {"shout": {"type": "boolean", "default": True},
                               "level": {"type": "integr", "default": 1}}}
