"""A plugin packaged with setup.cfg (pyproject.toml names only the backend): its result names the style and the installed version."""

from importlib.metadata import version

import six  # a dependency declared the setup.cfg (pyproject.toml names only the backend) way: installed only if the build read it

from cjm_docker.interface import PluginInterface


class Plugin(PluginInterface):
    name = "cjm-pkg-setup-cfg"
    version = "1.2.3"

    def initialize(self, config=None):
        self.config = dict(config or {})

    def execute(self, text: str = "") -> dict:
        return {"style": "setup-cfg", "text": text, "version": version("cjm-pkg-setup-cfg"),
                "six": six.PY3, "file": __file__}

    def get_config_schema(self):
        return {"type": "object", "properties": {}}

    def get_current_config(self):
        return self.config

    def cleanup(self):
        pass
