"""A plugin packaged with setuptools, pyproject.toml only: its result names the style and the installed version."""

from importlib.metadata import version

import six  # a dependency declared the setuptools, pyproject.toml only way: installed only if the build read it

from cjm_docker.interface import PluginInterface


class Plugin(PluginInterface):
    name = "cjm-pkg-setuptools-pyproject"
    version = "1.2.3"

    def initialize(self, config=None):
        self.config = dict(config or {})

    def execute(self, text: str = "") -> dict:
        return {"style": "setuptools-pyproject", "text": text, "version": version("cjm-pkg-setuptools-pyproject"),
                "six": six.PY3, "file": __file__}

    def get_config_schema(self):
        return {"type": "object", "properties": {}}

    def get_current_config(self):
        return self.config

    def cleanup(self):
        pass
