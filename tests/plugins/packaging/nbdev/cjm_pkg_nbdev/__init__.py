"""A plugin packaged with nbdev's settings.ini, read by setup.py: its result names the style and the installed version."""

from importlib.metadata import version

import six  # a dependency declared the nbdev's settings.ini, read by setup.py way: installed only if the build read it

from cjm_docker.interface import PluginInterface


class Plugin(PluginInterface):
    name = "cjm-pkg-nbdev"
    version = "1.2.3"

    def initialize(self, config=None):
        self.config = dict(config or {})

    def execute(self, text: str = "") -> dict:
        return {"style": "nbdev", "text": text, "version": version("cjm-pkg-nbdev"),
                "six": six.PY3, "file": __file__}

    def get_config_schema(self):
        return {"type": "object", "properties": {}}

    def get_current_config(self):
        return self.config

    def cleanup(self):
        pass
