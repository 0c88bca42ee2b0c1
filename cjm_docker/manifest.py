"""Manifests: what install-all learned about a plugin, and what the host needs to start it.

A manifest is the plugin's own metadata (``<module>.meta.get_plugin_metadata()``, the format of
cjm-plugin-system, kept as is with unknown keys preserved) plus what cjm-docker adds: the image
and the runtime settings from plugins.yaml. It is written to ``<data_dir>/manifests/<name>.json``
and stored on the image as the ``io.cjm.manifest`` label.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cjm_docker.errors import ManifestError
from cjm_docker.name_rule import name_problem, path_for


class VolumeMount(BaseModel):
    """An extra bind mount from plugins.yaml ``volumes``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    source: str
    target: str
    read_only: bool = False


class GpuRequest(BaseModel):
    """GPU needs from plugins.yaml ``resources.gpu``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    count: int = Field(default=1, ge=1)
    min_memory_mb: int = Field(default=0, ge=0)
    allow_cpu_fallback: bool = False   # run on the CPU, with a notice, when no GPU runtime exists


class ResourceLimits(BaseModel):
    """Container limits from plugins.yaml ``resources``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    memory_bytes: int | None = Field(default=None, gt=0)
    nano_cpus: int | None = Field(default=None, gt=0)
    pids: int | None = Field(default=None, gt=0)
    gpu: GpuRequest | None = None


class EditableSource(BaseModel):
    """A local plugin marked ``editable: true``: its package folder, mounted read-only over the
    installed copy (first on the container's PYTHONPATH), so a code change needs only a reload.

    Attributes:
        source: the host folder holding the package's ``meta.py`` (a resolved real path).
        module: the top-level package name (the folder's name inside the container).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    source: str = Field(min_length=1)
    module: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")


class RuntimeSettings(BaseModel):
    """How the host starts the plugin's container (from plugins.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    resources: ResourceLimits = Field(default_factory=ResourceLimits)
    env: dict[str, str] = Field(default_factory=dict)
    volumes: list[VolumeMount] = Field(default_factory=list)
    network: str | None = None          # None: no network at all (the default)
    read_only_rootfs: bool = False
    call_timeout: float | None = Field(default=None, gt=0)  # seconds per execute/stream read
    editable: EditableSource | None = None  # plugins.yaml `editable: true` (development only)


class Manifest(BaseModel):
    """One plugin's manifest. Unknown keys from the plugin's metadata are kept."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    name: str = Field(min_length=1)
    version: str = "0.0.0"
    description: str = ""
    author: str = ""
    category: str = ""
    interface: str = ""
    module: str = Field(min_length=1)
    class_name: str = Field(alias="class", min_length=1)
    config_schema: dict[str, Any] | None = None
    resources: dict[str, Any] = Field(default_factory=dict)   # the plugin's own declaration
    env_vars: dict[str, str] = Field(default_factory=dict)
    # Added by cjm-docker:
    image: str = Field(min_length=1)
    image_id: str = ""
    image_hash: str = ""                                      # content hash of the build inputs
    spec_name: str = ""                                       # the plugins.yaml name
    spec_file: str = ""                                       # the plugins.yaml it came from
    runtime: RuntimeSettings = Field(default_factory=RuntimeSettings)
    cjm_docker_version: str = ""
    lock: list[str] = Field(default_factory=list)             # every package, "name==version"
    shared_images: list[str] = Field(default_factory=list)    # runtime and stack tags it builds on

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        # The plugin chose this name (its metadata): it becomes a path only past the one rule.
        problem = name_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    def to_json(self) -> str:
        """Stable JSON (sorted keys), as written to disk and into the image label."""
        return json.dumps(self.model_dump(mode="json", by_alias=True), indent=2, sort_keys=True)


def parse_manifest(data: Any, *, source: str) -> Manifest:
    """Validate a manifest document; ``source`` names it in errors."""
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}"
                             for e in exc.errors())
        raise ManifestError(f"Manifest {source} is invalid: {problems}.",
                            hint="Re-create it with `cjm-ctl install-all --force -p NAME`.") from exc


def read_manifest(path: Path) -> Manifest:
    """Read and validate one manifest file."""
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise ManifestError(f"Cannot read manifest {path}: {exc.strerror}.") from exc
    except json.JSONDecodeError as exc:
        raise ManifestError(f"Manifest {path} is not valid JSON: {exc}.",
                            hint="Re-create it with `cjm-ctl install-all --force`.") from exc
    return parse_manifest(data, source=str(path))


def write_manifest(manifest: Manifest, manifests_dir: Path) -> Path:
    """Write ``<manifests_dir>/<name>.json`` atomically; returns the path."""
    manifests_dir.mkdir(parents=True, exist_ok=True)
    path = path_for(manifests_dir, manifest.name, ".json")
    fd, tmp = tempfile.mkstemp(dir=manifests_dir, prefix=f".{manifest.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        fh.write(manifest.to_json() + "\n")
    os.replace(tmp, path)
    return path
