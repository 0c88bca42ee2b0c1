"""A plugin packaged with hatchling: its result names the style and the installed version."""

from importlib.metadata import version

import six  # a dependency declared the hatchling way: installed only if the build read it

from cjm_docker.interface import PluginInterface


class Plugin(PluginInterface):
    name = "cjm-pkg-hatchling"
    version = "1.2.3"

    def initialize(self, config=None):
        self.config = dict(config or {})

    def execute(self, text: str = "") -> dict:
        return {"style": "hatchling", "text": text, "version": version("cjm-pkg-hatchling"),
                "six": six.PY3, "file": __file__}

    def get_config_schema(self):
        return {"type": "object", "properties": {}}

    def get_current_config(self):
        return self.config

    def cleanup(self):
        pass
