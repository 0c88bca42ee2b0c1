"""What the engine on this machine says about a deployment's GPUs and container user.

``cjm-ctl compose`` writes files for an engine: the GPU layer asks for GPUs the way that engine
offers them (``cjm_docker.gpu_access``) and rootless Docker wants containers as uid 0
(``cjm_docker.engine_kind``). When no engine answers, the file is written for the nvidia driver
and the host's uid, unless the user chose CDI.
"""

from __future__ import annotations

import os
from typing import Any

from cjm_docker.config import CjmConfig, GpuModeSetting
from cjm_docker.errors import CjmDockerError
from cjm_docker.gpu_access import GpuAccess, GpuMode, gpu_access_for
from cjm_docker.host.runtime_folder import container_user


def engine_settings(config: CjmConfig, gpu_mode: str = "auto",
                    gpus: bool = True) -> dict[str, Any]:
    """``ComposeOptions`` fields from this machine's engine (``gpu_access``, ``user``).

    Args:
        gpu_mode: ``auto`` (as the engine offers GPUs), ``runtime`` or ``cdi`` (``--gpu-mode``).
        gpus: some plugin wants a GPU (else GPU access is not asked for).
    """
    from cjm_docker.engine import Engine
    from cjm_docker.engine_kind import profile_of
    from cjm_docker.telemetry.gpu import detect_gpu_provider

    chosen = f"chosen with --gpu-mode {gpu_mode}"
    try:
        engine = Engine()
        profile = profile_of(engine)
        uid, gid = profile.container_user(os.getuid(), os.getgid(), container_user())
        if not gpus:
            return {"user": f"{uid}:{gid}"}
        if gpu_mode != "auto":
            config = config.model_copy(update={"docker": config.docker.model_copy(
                update={"gpu_mode": GpuModeSetting(gpu_mode)})})
        access = gpu_access_for(engine, detect_gpu_provider(), config)
    except CjmDockerError:
        # no engine to ask: CDI names by index when CDI was asked for, else the nvidia driver
        return {"gpu_access": GpuAccess(GpuMode.CDI, chosen)} if gpu_mode == "cdi" else {}
    if not access.usable and gpu_mode == "cdi":   # for another machine: write what was asked
        access = GpuAccess(GpuMode.CDI, chosen, access.devices)
    return {"gpu_access": access, "user": f"{uid}:{gid}"}
