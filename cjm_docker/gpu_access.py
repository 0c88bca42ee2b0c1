"""How this engine hands GPUs to containers: the one detection that placement, ``doctor``,
compose export and the scheduler follow.

    mode     how a container asks for GPU X                      when
    runtime  DeviceRequest driver "nvidia", ids = UUIDs          the engine lists the nvidia
             (``docker run --gpus device=GPU-...``)              runtime, or the toolkit's hook
                                                                 is installed (``--gpus`` needs
                                                                 only the hook)
             engines before 19.03 (no DeviceRequests): runtime "nvidia" + NVIDIA_VISIBLE_DEVICES
    cdi      DeviceRequest driver "cdi", ids = CDI names         Docker 25+ with CDI on and
             (``docker run --device nvidia.com/gpu=0``)          nvidia.com/gpu devices defined
    none     nothing: GPU plugins run on the CPU where their spec allows it

An engine without the nvidia runtime may still offer GPUs (CDI, or the hook alone): "no nvidia
runtime" never decides "no GPU" by itself. When several modes work, the runtime is used (the
longest-tested path) unless ``docker.gpu_mode`` says otherwise. A MIG-enabled GPU is handed over
as its MIG devices (a whole MIG-enabled GPU gives a container no usable CUDA device).

``decide`` is pure (``docker info``, NVML answers and what was found on this machine in, a
``GpuAccess`` out) and is tested on recorded answers; ``detect`` gathers those inputs.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from cjm_docker import cdi
from cjm_docker.errors import GpuUnavailableError
from cjm_docker.telemetry.gpu import GpuInfo, MigDevice

NVIDIA = "nvidia"
VISIBLE_DEVICES = "NVIDIA_VISIBLE_DEVICES"
TOOLKIT_HOOK = "nvidia-container-runtime-hook"
_HOOK_PLACES = ("/usr/bin", "/usr/local/bin", "/usr/sbin")
FIRST_DEVICE_REQUESTS_VERSION = (19, 3)   # Docker 19.03 = API 1.40
_REGENERATE = ("Regenerate the CDI spec (`sudo nvidia-ctk cdi generate --output=/etc/cdi/"
               "nvidia.yaml`): it goes stale after a driver or GPU change.")


class GpuMode(str, Enum):
    RUNTIME = "runtime"   # the NVIDIA Container Toolkit's device driver (--gpus)
    CDI = "cdi"           # CDI devices (--device nvidia.com/gpu=...)
    NONE = "none"         # the engine cannot hand GPUs to containers


@dataclass(frozen=True)
class GpuDevice:
    """A GPU or MIG device the containers can be given."""

    index: int                      # the GPU's NVML index (a MIG device: its parent's)
    uuid: str                       # GPU-... or MIG-...
    name: str = ""
    mig_index: int | None = None    # a MIG device's slot on its parent; None: a whole GPU
    memory_total_mb: float = 0.0

    @property
    def slot(self) -> str:
        """``0`` or ``0:1``: the index form NVIDIA_VISIBLE_DEVICES and nvidia-ctk names use."""
        return str(self.index) if self.mig_index is None else f"{self.index}:{self.mig_index}"


@dataclass(frozen=True)
class GpuRequest:
    """What a container asks the engine for (``ContainerSpec.gpus``)."""

    mode: GpuMode
    device_ids: tuple[str, ...]
    driver: str | None = None       # DeviceRequest driver ("nvidia", "cdi"); None: runtime + env
    runtime: str | None = None      # "nvidia" on engines without DeviceRequests
    env: Mapping[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        """The ``docker run`` flags that ask for the same thing."""
        ids = ",".join(self.device_ids)
        if self.driver == "cdi":
            return " ".join(f"--device {d}" for d in self.device_ids)
        if self.driver == NVIDIA:
            return f"--gpus device={ids}"
        return f"--runtime {self.runtime} -e {VISIBLE_DEVICES}={ids}"


@dataclass(frozen=True)
class HostFindings:
    """What this machine holds, for an engine running on it (CDI specs, the toolkit's hook)."""

    cdi_names: tuple[str, ...] = ()
    cdi_files: tuple[str, ...] = ()
    toolkit_hook: str | None = None


@dataclass(frozen=True)
class GpuAccess:
    """The engine's way to GPUs, the devices, and why (``reason``, shown by ``doctor``)."""

    mode: GpuMode
    reason: str
    devices: tuple[GpuDevice, ...] = ()
    cdi_names: tuple[str, ...] = ()       # CDI devices the engine offers (() none or unknown)
    available: tuple[GpuMode, ...] = ()   # every mode that would work here
    legacy_runtime: bool = False          # no DeviceRequests: runtime + NVIDIA_VISIBLE_DEVICES

    @property
    def usable(self) -> bool:
        return self.mode is not GpuMode.NONE

    def _find(self, device_id: str) -> GpuDevice | None:
        return next((d for d in self.devices if device_id in (d.uuid, d.slot)), None)

    def _expand_mig(self, device_ids: Iterable[str]) -> list[str]:
        """A MIG-enabled GPU's id replaced by its MIG devices' UUIDs."""
        out = []
        for device_id in device_ids:
            gpu = self._find(device_id)
            migs = [d.uuid for d in self.devices
                    if gpu is not None and gpu.mig_index is None and d.mig_index is not None
                    and d.index == gpu.index]
            out.extend(migs or [device_id])
        return list(dict.fromkeys(out))

    def cdi_name(self, device_id: str) -> str:
        """The CDI name for a GPU given by UUID, index (``0``, ``0:1``) or ``all``.

        Raises:
            GpuUnavailableError: the engine's CDI devices do not include it.
        """
        if cdi.is_qualified(device_id):
            return device_id
        device = self._find(device_id)
        # nvidia-ctk names devices by index unless told to use UUIDs; accept either
        candidates = [device_id] + ([device.uuid, device.slot] if device else [])
        names = [cdi.qualified(c) for c in dict.fromkeys(candidates)]
        if not self.cdi_names:
            return names[-1]   # the engine does not list its devices: the index form
        for name in names:
            if name in self.cdi_names:
                return name
        raise GpuUnavailableError(
            f"The engine's CDI devices ({', '.join(self.cdi_names)}) do not include GPU "
            f"{device_id}.", reason="GPU missing from the CDI spec", hint=_REGENERATE)

    def request(self, device_ids: Sequence[str]) -> GpuRequest | None:
        """How to ask this engine for ``device_ids`` (UUIDs, indices or ``all``); None for none."""
        if not device_ids or not self.usable:
            return None
        ids = self._expand_mig(device_ids)
        if self.mode is GpuMode.CDI:
            return GpuRequest(GpuMode.CDI, tuple(self.cdi_name(i) for i in ids), driver="cdi")
        if self.legacy_runtime:
            return GpuRequest(GpuMode.RUNTIME, tuple(ids), runtime=NVIDIA,
                              env={VISIBLE_DEVICES: ",".join(ids)})
        return GpuRequest(GpuMode.RUNTIME, tuple(ids), driver=NVIDIA)


def _server_version(info: Mapping[str, Any]) -> tuple[int, int] | None:
    parts = str(info.get("ServerVersion") or "").split(".")
    try:
        return int(parts[0]), int(parts[1].split("-")[0].split("+")[0])
    except (ValueError, IndexError):
        return None


def devices_from(gpus: Iterable[GpuInfo], migs: Iterable[MigDevice] = ()) -> tuple[GpuDevice, ...]:
    """Whole GPUs then MIG devices, as NVML (or nvidia-smi) reports them."""
    whole = [GpuDevice(g.index, g.uuid, g.name, None, g.memory_total_mb) for g in gpus]
    parts = [GpuDevice(m.parent_index, m.uuid, m.name, m.mig_index, m.memory_total_mb)
             for m in migs]
    return tuple(sorted(whole, key=lambda d: d.index)
                 + sorted(parts, key=lambda d: (d.index, d.mig_index or 0)))


def decide(info: Mapping[str, Any], *, gpus: Iterable[GpuInfo] = (),
           migs: Iterable[MigDevice] = (), host: HostFindings | None = None,
           prefer: GpuMode | None = None) -> GpuAccess:
    """The GPU mode for an engine that answered ``info``.

    Args:
        gpus, migs: what NVML (or nvidia-smi) sees.
        host: what this machine holds; None when the engine is not on this machine (its CDI
            spec files and hook are not ours to read).
        prefer: ``docker.gpu_mode`` when the user chose one (None: automatic).
    """
    devices = devices_from(gpus, migs)
    runtime_listed = NVIDIA in (info.get("Runtimes") or {})
    dirs = cdi.spec_dirs(info)
    discovered = cdi.discovered_names(info)
    names = discovered if discovered is not None else (host.cdi_names if host and dirs else ())
    hook = host.toolkit_hook if host else None
    version = _server_version(info)
    legacy = version is not None and version < FIRST_DEVICE_REQUESTS_VERSION
    found: dict[GpuMode, str] = {}
    if runtime_listed:
        found[GpuMode.RUNTIME] = "the engine lists the nvidia runtime"
    elif hook and not legacy:
        found[GpuMode.RUNTIME] = (f"the NVIDIA Container Toolkit's hook is installed ({hook}), "
                                  "which --gpus needs (the nvidia runtime is not registered)")
    if dirs and names:
        source = "the engine reports" if discovered is not None else \
            f"the spec files in {', '.join(dirs)} define"
        found[GpuMode.CDI] = f"CDI is on and {source} {len(names)} nvidia.com/gpu devices"
    available = tuple(found)
    if prefer is not None and prefer is not GpuMode.NONE:
        mode = prefer if prefer in found else GpuMode.NONE
    else:
        mode = available[0] if available else GpuMode.NONE
    if mode is not GpuMode.NONE:
        reason = found[mode]
    else:
        reason = _why_none(prefer, runtime_listed, dirs, names, host, devices)
    return GpuAccess(mode, reason, devices, names if dirs else (), available,
                     legacy and mode is GpuMode.RUNTIME)


def _why_none(prefer: GpuMode | None, runtime_listed: bool, dirs: tuple[str, ...] | None,
              names: tuple[str, ...], host: HostFindings | None,
              devices: tuple[GpuDevice, ...]) -> str:
    looked = ["no nvidia runtime" if not runtime_listed else "the nvidia runtime"]
    if dirs is None:
        looked.append("an engine without CDI support (Docker 25+ has it)")
    elif not dirs:
        looked.append("CDI off in the engine (features.cdi in daemon.json)")
    else:
        looked.append(f"no nvidia.com/gpu CDI devices in {', '.join(dirs)}")
    if host is not None and not host.toolkit_hook:
        looked.append(f"no {TOOLKIT_HOOK}")
    if host is not None and host.cdi_names and not dirs:
        looked.append(f"(CDI specs exist in {', '.join(host.cdi_files)}, unused while CDI is off)")
    if host is None:
        looked.append("the engine is not on this machine, so its CDI specs and toolkit are unseen")
    seen = f"; NVML sees {len([d for d in devices if d.mig_index is None])} GPU(s)" if devices \
        else ""
    wanted = f"docker.gpu_mode is {prefer.value} but that is not available: " if prefer else ""
    return f"{wanted}{', '.join(looked)}{seen}"


def probe_host(spec_folders: Iterable[str]) -> HostFindings:
    """What this machine holds: nvidia.com/gpu CDI specs in ``spec_folders``, the toolkit's hook."""
    names, files = cdi.read_spec_folders(spec_folders)
    hook = shutil.which(TOOLKIT_HOOK) or next(
        (p for p in (os.path.join(d, TOOLKIT_HOOK) for d in _HOOK_PLACES)
         if os.access(p, os.X_OK)), None)
    return HostFindings(names, tuple(files), hook)


def detect(engine: Any, provider: Any, *, local: bool = True, prefer: GpuMode | None = None,
           probe: Any = None) -> GpuAccess:
    """``decide`` on this engine's ``docker info``, the GPU provider's answers and, for an engine
    on this machine (``local``), its CDI spec folders and the toolkit's hook."""
    info = engine.info()
    probe = probe or probe_host   # looked up at call time: tests replace the module's
    host = probe(cdi.spec_dirs(info) or cdi.DEFAULT_SPEC_DIRS) if local else None
    migs = getattr(provider, "mig_devices", None)
    return decide(info, gpus=provider.gpus(), migs=migs() if migs else (), host=host,
                  prefer=prefer)


def gpu_access_for(engine: Any, provider: Any, config: Any) -> GpuAccess:
    """``detect`` for a live engine: its kind says whether this machine's files are its own, and
    ``docker.gpu_mode`` may choose the mode."""
    from cjm_docker.engine_kind import profile_of

    setting = getattr(getattr(config, "docker", None), "gpu_mode", None)
    prefer = None if setting is None or setting.value == "auto" else GpuMode(setting.value)
    return detect(engine, provider, local=profile_of(engine).host_files_are_engine_files,
                  prefer=prefer)
