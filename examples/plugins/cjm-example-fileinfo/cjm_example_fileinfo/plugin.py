"""FileInfoPlugin: what `file --mime-type` says about a path, and its size."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

from cjm_docker.interface import PluginInterface


class FileInfoPlugin(PluginInterface):
    """Describes a file the container can see (e.g. a FileBackedDTO on the shared mount)."""

    def __init__(self) -> None:
        self.config: dict[str, Any] = {"follow_symlinks": True}

    @property
    def name(self) -> str:
        return "cjm-example-fileinfo"

    @property
    def version(self) -> str:
        return "0.1.0"

    def initialize(self, config: dict[str, Any] | None = None) -> None:
        unknown = set(config or {}) - set(self.config)
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        self.config.update(config or {})

    def execute(self, path: str) -> dict[str, Any]:
        """``{"path", "mime_type", "size"}`` of ``path``."""
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path} is not visible in the container")
        binary = shutil.which("file")
        if binary is None:
            raise RuntimeError("the `file` program is missing (system_packages: [file])")
        flags = ["-L"] if self.config["follow_symlinks"] else []
        mime = subprocess.run([binary, "--brief", "--mime-type", *flags, path], check=True,
                              capture_output=True, text=True).stdout.strip()
        return {"path": path, "mime_type": mime, "size": os.path.getsize(path)}

    def get_config_schema(self) -> dict[str, Any]:
        return {"name": "FileInfoConfig", "title": "FileInfoConfig", "type": "object",
                "description": "How files are examined.",
                "properties": {"follow_symlinks": {"type": "boolean", "default": True,
                                                   "description": "Describe a link's target."}}}

    def get_current_config(self) -> dict[str, Any]:
        return dict(self.config)

    def cleanup(self) -> None:
        pass
