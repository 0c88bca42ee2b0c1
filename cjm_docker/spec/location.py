"""Where in the input a problem is: the file, the plugin and the key, named in every error."""

from __future__ import annotations

from dataclasses import dataclass, replace

from cjm_docker.errors import SpecError


@dataclass(frozen=True)
class Location:
    """A place in plugins.yaml or in an environment spec.

    Attributes:
        file: the file (or URL) the value came from.
        plugin: the plugins.yaml entry's name, when known.
        key: a dotted key path inside the entry (``resources.memory``), when there is one.
        via: the plugins.yaml that refers to ``file`` (for environment specs).
    """

    file: str
    plugin: str | None = None
    key: str | None = None
    via: str | None = None

    def at(self, key: str) -> Location:
        """The same place, one key deeper."""
        return replace(self, key=f"{self.key}.{key}" if self.key else key)

    def describe(self) -> str:
        parts = [self.file]
        if self.via is not None:
            parts[0] += f" (env_file of plugin '{self.plugin}' in {self.via})"
        elif self.plugin is not None:
            parts.append(f"plugin '{self.plugin}'")
        if self.key:
            parts.append(f"key '{self.key}'")
        return ", ".join(parts)

    def error(self, message: str, *, hint: str | None = None) -> SpecError:
        """A SpecError that starts by naming this place."""
        return SpecError(f"{self.describe()}: {message}", plugin=self.plugin, hint=hint)
