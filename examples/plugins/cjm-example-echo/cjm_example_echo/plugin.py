"""EchoPlugin: text in, transformed text out, with progress, cooperative cancel and streaming."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from cjm_docker.interface import PluginInterface
from cjm_docker.validation import dataclass_to_jsonschema, dict_to_config
from cjm_example_echo.meta import PLUGIN_NAME, data_dir


@dataclass
class EchoConfig:
    """How the text is echoed."""

    prefix: str = field(default="", metadata={"description": "Put before the text."})
    uppercase: bool = field(default=False, metadata={"description": "Upper-case the text."})
    repeat: int = field(default=1, metadata={"description": "How many times to repeat it.",
                                            "minimum": 1, "maximum": 100})


class EchoPlugin(PluginInterface):
    """Echoes text; a long call (``sleep``) can be followed with progress and cancelled."""

    def __init__(self) -> None:
        self.config = EchoConfig()

    @property
    def name(self) -> str:
        return PLUGIN_NAME

    @property
    def version(self) -> str:
        return "0.1.0"

    def initialize(self, config: dict[str, Any] | None = None) -> None:
        values = dataclasses.asdict(self.config) | dict(config or {})
        self.config = dict_to_config(EchoConfig, values, validate=True)

    def _transform(self, text: str) -> str:
        out = " ".join([text] * self.config.repeat)
        out = out.upper() if self.config.uppercase else out
        return f"{self.config.prefix}{out}"

    def execute(self, text: str = "", sleep: float = 0.0, steps: int = 10,
                record: bool = True) -> dict[str, Any]:
        """Echo ``text``, taking ``sleep`` seconds over ``steps`` progress steps; ``record``
        appends the result to ``history.log`` in the plugin's data folder."""
        steps = max(1, int(steps))
        for i in range(steps):
            self.check_cancel()
            self.report_progress(i / steps, f"step {i + 1}/{steps}")
            if sleep:
                time.sleep(sleep / steps)
        self.report_progress(1.0, "done")
        result = self._transform(text)
        if not record:
            return {"text": result, "length": len(result), "history": ""}
        history = os.path.join(data_dir(), "history.log")
        try:
            os.makedirs(os.path.dirname(history), exist_ok=True)
            with open(history, "a", encoding="utf-8") as fh:
                fh.write(result + "\n")
        except OSError:
            history = ""  # a read-only data folder does not fail the echo
        return {"text": result, "length": len(result), "history": history}

    def execute_stream(self, text: str = "", sleep: float = 0.0) -> Generator[str, None, None]:
        """Yield the transformed text word by word."""
        words = self._transform(text).split()
        for i, word in enumerate(words):
            self.check_cancel()
            self.report_progress((i + 1) / max(1, len(words)), word)
            if sleep:
                time.sleep(sleep / max(1, len(words)))
            yield word

    def get_config_schema(self) -> dict[str, Any]:
        return dataclass_to_jsonschema(EchoConfig)

    def get_current_config(self) -> dict[str, Any]:
        return dataclasses.asdict(self.config)

    def cleanup(self) -> None:
        pass
