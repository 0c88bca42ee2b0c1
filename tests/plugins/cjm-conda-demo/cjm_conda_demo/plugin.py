"""CondaDemoPlugin: a conda package's data file and module, and a pip package, in one result."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import inflection  # pip: the env spec's pip section
from cjm_shout import shout  # conda: a noarch python package from the channel

from cjm_docker.interface import PluginInterface


class CondaDemoPlugin(PluginInterface):
    @property
    def name(self) -> str:
        return "cjm-conda-demo"

    @property
    def version(self) -> str:
        return "0.1.0"

    def initialize(self, config: dict[str, Any] | None = None) -> None:
        pass

    def execute(self, who: str = "world") -> dict[str, Any]:
        # conda: a data file the cjm-greeting package put into the environment's prefix
        greeting = Path(os.environ["CONDA_PREFIX"], "share", "cjm-greeting", "greeting.txt")
        text = f"{greeting.read_text().strip()} to {who}"
        return {"shouted": shout(text), "titled": inflection.titleize(text),
                "prefix": os.environ["CONDA_PREFIX"]}

    def execute_stream(self, who: str = "world"):
        yield self.execute(who)

    def get_config_schema(self) -> dict[str, Any]:
        return {"type": "object", "properties": {}}

    def get_current_config(self) -> dict[str, Any]:
        return {}

    def cleanup(self) -> None:
        pass
