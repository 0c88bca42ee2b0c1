"""What the broken example plugins share: a plugin that works, each breaks one thing."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from cjm_docker.interface import PluginInterface


def metadata(name: str, module: str, cls: str, description: str) -> dict[str, Any]:
    """The manifest metadata of one broken plugin."""
    return {"name": name, "version": "0.1.0", "description": description, "category": "testing",
            "type": "testing", "interface": "cjm_docker.interface.PluginInterface",
            "module": module, "class": cls,
            "resources": {"requires_gpu": False, "min_system_ram_mb": 32}}


class WorkingPlugin(PluginInterface):
    """Upper-cases text; conforms in every way until a subclass breaks something."""

    plugin_name = "cjm-broken-base"

    def __init__(self) -> None:
        self.config: dict[str, Any] = {"shout": True}

    @property
    def name(self) -> str:
        return self.plugin_name

    @property
    def version(self) -> str:
        return "0.1.0"

    def initialize(self, config: dict[str, Any] | None = None) -> None:
        self.config.update(config or {})

    def execute(self, text: str = "") -> dict[str, Any]:
        return {"text": text.upper() if self.config["shout"] else text}

    def execute_stream(self, text: str = "") -> Generator[str, None, None]:
        yield from self.execute(text)["text"].split()

    def get_config_schema(self) -> dict[str, Any]:
        return {"type": "object", "properties": {"shout": {"type": "boolean", "default": True}}}

    def get_current_config(self) -> dict[str, Any]:
        return dict(self.config)

    def cleanup(self) -> None:
        pass
