"""WordCountPlugin: counts words in a text or a file, with progress, cancel and streaming."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from cjm_docker.interface import PluginInterface
from cjm_docker.validation import dataclass_to_jsonschema, dict_to_config

WORD = re.compile(r"[\w']+")


@dataclass
class WordCountConfig:
    """How words are counted."""

    lowercase: bool = field(default=True, metadata={"description": "Count 'The' and 'the' as one."})
    min_length: int = field(default=1, metadata={"description": "Ignore shorter words.",
                                                "minimum": 1, "maximum": 50})
    top: int = field(default=5, metadata={"description": "How many of the most common words.",
                                         "minimum": 1, "maximum": 1000})


class WordCountPlugin(PluginInterface):
    """Counts words; a long file can be followed with progress and cancelled."""

    def __init__(self) -> None:
        self.config = WordCountConfig()

    @property
    def name(self) -> str:
        return "cjm-example-wordcount"

    @property
    def version(self) -> str:
        return "0.1.0"

    def initialize(self, config: dict[str, Any] | None = None) -> None:
        values = dataclasses.asdict(self.config) | dict(config or {})
        self.config = dict_to_config(WordCountConfig, values, validate=True)

    def _words(self, line: str) -> list[str]:
        words = WORD.findall(line.lower() if self.config.lowercase else line)
        return [w for w in words if len(w) >= self.config.min_length]

    def _lines(self, text: str, path: str | None) -> list[str]:
        if path is None:
            return text.splitlines()
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read().splitlines()

    def execute(self, text: str = "", path: str | None = None) -> dict[str, Any]:
        """Count the words of ``text``, or of the file at ``path`` when one is given."""
        lines = self._lines(text, path)
        counts: Counter[str] = Counter()
        for number, line in enumerate(lines, start=1):
            self.check_cancel()                      # raises once cancel() was called
            counts.update(self._words(line))
            self.report_progress(number / len(lines), f"line {number}/{len(lines)}")
        return {"words": sum(counts.values()), "distinct": len(counts),
                "top": [[word, n] for word, n in counts.most_common(self.config.top)]}

    def execute_stream(self, text: str = "", path: str | None = None) -> Generator[int, None, None]:
        """Yield the number of words of each line."""
        for line in self._lines(text, path):
            self.check_cancel()
            yield len(self._words(line))

    def get_config_schema(self) -> dict[str, Any]:
        return dataclass_to_jsonschema(WordCountConfig)

    def get_current_config(self) -> dict[str, Any]:
        return dataclasses.asdict(self.config)

    def cleanup(self) -> None:
        pass   # nothing held: no models, no files, no threads
