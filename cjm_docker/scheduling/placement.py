"""Which GPU a plugin's container gets (pure: GPUs, needs and settings in, ``Placement`` out).

The rule: the GPU with the most free memory (after open reservations) that fits the need, and only
that device is handed to the container. ``CUDA_VISIBLE_DEVICES`` set by the user is never
rewritten: a plugin whose environment sets it gets every GPU, so the indices it names mean what
they mean on the host.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from cjm_docker.errors import GpuUnavailableError
from cjm_docker.gpu_access import GpuAccess, GpuRequest
from cjm_docker.scheduling.requirements import Requirements
from cjm_docker.telemetry.gpu import GpuInfo

CUDA_VISIBLE_DEVICES = "CUDA_VISIBLE_DEVICES"
_FALLBACK_HINT = ("Install the NVIDIA Container Toolkit and register it with Docker "
                  "(`nvidia-ctk runtime configure --runtime=docker`, then restart dockerd), or "
                  "enable CDI (Docker 25+) with `nvidia-ctk cdi generate`; or allow the CPU with "
                  "`resources.gpu.allow_cpu_fallback: true` in plugins.yaml. `cjm-ctl doctor` "
                  "shows what was found.")


@dataclass(frozen=True)
class Placement:
    """Where a plugin's container runs.

    Attributes:
        device_ids: the GPUs handed to the container (NVML UUIDs where known, else indices).
        gpu_indices: the host GPUs its VRAM is counted against; () without a GPU, None unknown.
        on_cpu: it needs a GPU but runs on the CPU (its spec allows it).
        fits: False when no GPU has its VRAM free now (placed on the freest anyway).
        notice: what to tell the user, if anything.
        request: how the container asks the engine for ``device_ids`` (runtime or CDI).
    """

    device_ids: tuple[str, ...] = ()
    gpu_indices: tuple[int, ...] | None = ()
    on_cpu: bool = False
    fits: bool = True
    notice: str | None = None
    request: GpuRequest | None = None


def choose_gpus(gpus: Sequence[GpuInfo], need_mb: float, count: int = 1,
                reserved: Mapping[int, float] | None = None) -> tuple[int, ...] | None:
    """The ``count`` GPUs with the most free memory that each fit ``need_mb``; None if too few.

    Ties go to the lower index, so the choice is deterministic.
    """
    free = {g.index: g.memory_free_mb - (reserved or {}).get(g.index, 0.0) for g in gpus}
    fitting = sorted((i for i in free if need_mb <= free[i]), key=lambda i: (-free[i], i))
    return tuple(fitting[:count]) if len(fitting) >= count else None


def _named_gpus(value: str, gpus: Sequence[GpuInfo]) -> tuple[int, ...] | None:
    """The host GPUs a CUDA_VISIBLE_DEVICES value names (indices or UUIDs); None if unclear."""
    by_uuid = {g.uuid: g.index for g in gpus}
    indices = []
    for item in (v.strip() for v in value.split(",") if v.strip()):
        if item.isdigit() and any(g.index == int(item) for g in gpus):
            indices.append(int(item))
        elif item in by_uuid:
            indices.append(by_uuid[item])
        else:
            return None
    return tuple(indices)


def plan_placement(name: str, req: Requirements, *, access: GpuAccess,
                   gpus: Sequence[GpuInfo], env: Mapping[str, str] | None = None,
                   reserved: Mapping[int, float] | None = None) -> Placement:
    """Decide where ``name`` runs, and how its container asks the engine for the GPUs.

    Args:
        req: its needs (``Requirements.of(meta)``).
        access: how the engine hands GPUs to containers (``cjm_docker.gpu_access``).
        gpus: the host's GPUs now (may be empty when no provider can see them).
        env: the environment the container will get (the plugin's own settings).
        reserved: VRAM reserved per GPU index by admitted calls.

    Raises:
        GpuUnavailableError: it needs a GPU it cannot get and may not run on the CPU.
    """
    placement = _plan(name, req, access, gpus, env, reserved)
    if not placement.device_ids:
        return placement
    try:
        return replace(placement, request=access.request(placement.device_ids))
    except GpuUnavailableError as exc:   # e.g. a GPU the CDI spec does not list
        raise GpuUnavailableError(f"Plugin '{name}' cannot get its GPU: {exc.message}",
                                  plugin=name, reason=exc.reason, hint=exc.hint) from exc


def _plan(name: str, req: Requirements, access: GpuAccess, gpus: Sequence[GpuInfo],
          env: Mapping[str, str] | None, reserved: Mapping[int, float] | None) -> Placement:
    if not req.requires_gpu:
        return Placement()
    if not access.usable:
        if req.allow_cpu_fallback:
            return Placement(on_cpu=True, notice=(
                f"Plugin '{name}' asks for a GPU but the Docker engine cannot hand GPUs to "
                f"containers ({access.reason}): it runs on the CPU, as its spec allows "
                "(resources.gpu.allow_cpu_fallback)."))
        raise GpuUnavailableError(
            f"Plugin '{name}' needs a GPU but the Docker engine cannot hand GPUs to containers "
            f"({access.reason}).", plugin=name, reason="no GPU access", hint=_FALLBACK_HINT)
    user_choice = (env or {}).get(CUDA_VISIBLE_DEVICES)
    if user_choice is not None:
        return Placement(
            device_ids=tuple(g.device_id for g in gpus) or ("all",),
            gpu_indices=_named_gpus(user_choice, gpus) if gpus else None,
            notice=(f"Plugin '{name}' sets CUDA_VISIBLE_DEVICES={user_choice}: it gets every GPU "
                    "and the variable is left as it is."))
    if not gpus:
        return Placement(device_ids=tuple(str(i) for i in range(req.gpu_count)), gpu_indices=None,
                         notice=(f"No GPU figures on this host (neither NVML nor nvidia-smi "
                                 f"answers): plugin '{name}' gets GPU "
                                 f"{','.join(str(i) for i in range(req.gpu_count))} unchecked."))
    if len(gpus) < req.gpu_count:
        raise GpuUnavailableError(
            f"Plugin '{name}' needs {req.gpu_count} GPUs; this host has {len(gpus)}.",
            plugin=name, reason="too few GPUs", hint="Lower resources.gpu.count in plugins.yaml.")
    need = req.vram_mb if req.needs_vram else 0.0
    largest = sorted((g.memory_total_mb for g in gpus), reverse=True)[req.gpu_count - 1]
    if need > largest:
        raise GpuUnavailableError(
            f"Plugin '{name}' needs {need:.0f}MB of VRAM per GPU; the largest GPU here has "
            f"{largest:.0f}MB.", plugin=name, reason="no GPU large enough",
            hint="Lower min_gpu_vram_mb / resources.gpu.min_memory_mb, or use a larger GPU.")
    by_index = {g.index: g for g in gpus}
    chosen = choose_gpus(gpus, need, req.gpu_count, reserved)
    fits = chosen is not None
    if chosen is None:
        chosen = choose_gpus(gpus, float("-inf"), req.gpu_count, reserved) or ()
    notice = None if fits else (
        f"No GPU has {need:.0f}MB free for plugin '{name}' now: it is placed on GPU "
        f"{','.join(map(str, chosen))} (the freest); calls wait or evict idle plugins to fit.")
    return Placement(device_ids=tuple(by_index[i].device_id for i in chosen), gpu_indices=chosen,
                     fits=fits, notice=notice)
