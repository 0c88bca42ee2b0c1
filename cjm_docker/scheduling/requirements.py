"""What a plugin needs to run, read from its manifest.

Two sources, both honoured:

- the plugin's own ``resources`` (cjm-plugin-system 0.0.x keys): ``requires_gpu``,
  ``min_gpu_vram_mb``, ``min_system_ram_mb``;
- cjm-docker's ``runtime.resources`` from plugins.yaml: ``memory_bytes`` (the container's limit,
  the RAM estimate when the plugin declares none) and ``gpu`` (``count``, ``min_memory_mb``,
  ``allow_cpu_fallback``).

The larger figure wins where both say something.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MIB = 1024 * 1024


def _number(value: Any) -> float:
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return 0.0


def _mapping(value: Any) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    if hasattr(value, "model_dump"):   # a pydantic model (Manifest, RuntimeSettings, ...)
        return value.model_dump(by_alias=True)
    return {}


@dataclass(frozen=True)
class Requirements:
    """A plugin's needs (MiB; VRAM per GPU)."""

    ram_mb: float = 0.0
    vram_mb: float = 0.0
    requires_gpu: bool = False
    gpu_count: int = 1
    allow_cpu_fallback: bool = False

    @classmethod
    def from_manifest(cls, manifest: Any) -> Requirements:
        """Needs declared by a manifest (a dict as on disk, or a ``Manifest``)."""
        manifest = _mapping(manifest)
        own = _mapping(manifest.get("resources"))
        limits = _mapping(_mapping(manifest.get("runtime")).get("resources"))
        gpu = _mapping(limits.get("gpu")) if limits.get("gpu") is not None else None
        ram = _number(own.get("min_system_ram_mb"))
        if not ram and limits.get("memory_bytes"):
            ram = _number(limits["memory_bytes"]) / MIB
        return cls(
            ram_mb=ram,
            vram_mb=max(_number(own.get("min_gpu_vram_mb")),
                        _number(gpu.get("min_memory_mb")) if gpu else 0.0),
            requires_gpu=bool(own.get("requires_gpu")) or gpu is not None,
            gpu_count=max(1, int(_number(gpu.get("count", 1)))) if gpu else 1,
            allow_cpu_fallback=bool(gpu.get("allow_cpu_fallback")) if gpu else False,
        )

    @classmethod
    def of(cls, meta: Any) -> Requirements:
        """Needs of a ``PluginMeta`` (its ``manifest``), a manifest, or nothing (no needs).

        A loaded plugin's were computed at its load (``PluginMeta.requirements``): admission
        asks on every call and reads them instead of parsing the manifest again.
        """
        cached = getattr(meta, "requirements", None)
        if isinstance(cached, Requirements):
            return cached
        manifest = getattr(meta, "manifest", None)
        return cls.from_manifest(meta if manifest is None else manifest)

    @property
    def needs_vram(self) -> bool:
        return self.requires_gpu and self.vram_mb > 0
