"""Crashes in initialize, as a plugin whose model file is missing does."""

from typing import Any

from cjm_broken_common import WorkingPlugin


class CrashOnInit(WorkingPlugin):
    plugin_name = "cjm-broken-init"

    def initialize(self, config: dict[str, Any] | None = None) -> None:
        raise RuntimeError("model weights not found at /models/missing.bin")
