"""CDI (Container Device Interface) device names: what an engine with CDI can hand to containers.

A CDI device is named ``<kind>=<name>``, e.g. ``nvidia.com/gpu=0``, ``nvidia.com/gpu=GPU-<uuid>``
or ``nvidia.com/gpu=0:1`` (a MIG device). Names come from two places:

- ``docker info``: ``CDISpecDirs`` (an empty list means the engine's CDI support is off) and, on
  newer engines, ``DiscoveredDevices`` (``[{"Source": "cdi", "ID": "nvidia.com/gpu=0"}, ...]``);
- the spec files in those folders (``/etc/cdi``, ``/var/run/cdi``), YAML or JSON, each with a
  ``kind`` and ``devices[].name`` — read only when the engine runs on this machine.

Parsing is pure (``names_in_spec``, ``discovered_names``); ``read_spec_folders`` is the IO. Spec
files are the administrator's, but are read defensively (size-capped, bad files skipped).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

NVIDIA_GPU_KIND = "nvidia.com/gpu"
DEFAULT_SPEC_DIRS = ("/etc/cdi", "/var/run/cdi")
#: nvidia-ctk writes a few KiB per GPU; anything far larger is not a spec we want to parse.
MAX_SPEC_BYTES = 4 << 20


def qualified(name: str, kind: str = NVIDIA_GPU_KIND) -> str:
    """``nvidia.com/gpu=<name>``."""
    return f"{kind}={name}"


def is_qualified(device: str) -> bool:
    """True for a fully qualified CDI name (``vendor.com/class=name``), as the docker CLI tells."""
    kind, sep, name = device.partition("=")
    return bool(sep and name and "/" in kind and "." in kind.split("/", 1)[0])


def spec_dirs(info: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The engine's CDI spec folders; () when its CDI support is off, None when it does not say
    (an engine older than CDI support)."""
    if "CDISpecDirs" not in info:
        return None
    return tuple(str(d) for d in info.get("CDISpecDirs") or ())


def discovered_names(info: Mapping[str, Any], kind: str = NVIDIA_GPU_KIND) -> tuple[str, ...] | None:
    """The ``kind`` devices the engine itself reports (``DiscoveredDevices``); None when it does
    not report devices at all (engines before that field)."""
    if "DiscoveredDevices" not in info:
        return None
    found = []
    for entry in info.get("DiscoveredDevices") or ():
        if not isinstance(entry, Mapping) or entry.get("Source", "cdi") != "cdi":
            continue
        device = str(entry.get("ID") or "")
        if device.partition("=")[0] == kind and is_qualified(device):
            found.append(device)
    return tuple(sorted(set(found)))


def names_in_spec(document: Any, kind: str = NVIDIA_GPU_KIND) -> list[str]:
    """Qualified names of the ``kind`` devices one parsed spec document defines."""
    if not isinstance(document, Mapping) or document.get("kind") != kind:
        return []
    names = []
    for device in document.get("devices") or ():
        name = device.get("name") if isinstance(device, Mapping) else None
        if isinstance(name, (str, int)) and str(name):
            names.append(qualified(str(name), kind))
    return names


def parse_spec(text: str, suffix: str) -> Any:
    """A spec file's document (JSON for ``.json``, YAML otherwise); None when it does not parse."""
    try:
        return json.loads(text) if suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError):
        return None


def read_spec_folders(folders: Iterable[str | Path],
                      kind: str = NVIDIA_GPU_KIND) -> tuple[tuple[str, ...], list[str]]:
    """The ``kind`` devices defined in the spec files of ``folders`` and the files they came
    from. Missing folders, unreadable, oversized or malformed files are skipped."""
    names: set[str] = set()
    sources: list[str] = []
    for folder in folders:
        try:
            files = sorted(p for p in Path(folder).iterdir()
                           if p.suffix in (".yaml", ".yml", ".json") and p.is_file())
        except OSError:
            continue
        for path in files:
            try:
                if path.stat().st_size > MAX_SPEC_BYTES:
                    continue
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            found = names_in_spec(parse_spec(text, path.suffix), kind)
            if found:
                names.update(found)
                sources.append(str(path))
    return tuple(sorted(names)), sources
