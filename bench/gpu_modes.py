"""The engine half of `bench/gpu_check.py`: how this engine offers GPUs (nvidia runtime, the
toolkit's hook, CDI), and a real container started through each mode that works here.

Every line says what was checked and what was found, so a run on a GPU machine can be pasted
into an issue as it is. Used by gpu_check.py; runs alone too: `python bench/gpu_modes.py`.
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cjm_docker import cdi, labels  # noqa: E402
from cjm_docker.engine import ContainerSpec, Engine  # noqa: E402
from cjm_docker.engine_kind import profile_of  # noqa: E402
from cjm_docker.errors import CjmDockerError  # noqa: E402
from cjm_docker.gpu_access import GpuAccess, GpuMode, detect, probe_host  # noqa: E402

INFO_FIELDS = ("ServerVersion", "OperatingSystem", "Runtimes", "DefaultRuntime", "CDISpecDirs",
               "DiscoveredDevices", "SecurityOptions")


def show_engine(engine: Engine) -> dict:
    info = engine.info()
    profile = profile_of(engine)
    print("\n== engine (docker info fields GPU access and the engine kind are read from)")
    for key in INFO_FIELDS:
        value = info.get(key, "<not reported by this engine>")
        print(f"  {key}: {json.dumps(sorted(value) if key == 'Runtimes' and value else value)}")
    print(f"  -> {profile.describe()}")
    return info


def show_host(info: dict) -> None:
    folders = cdi.spec_dirs(info) or cdi.DEFAULT_SPEC_DIRS
    found = probe_host(folders)
    print(f"\n== this machine (read because the engine is local): CDI spec folders "
          f"{', '.join(folders)}")
    print(f"  spec files defining nvidia.com/gpu: {found.cdi_files or 'none'}")
    print(f"  CDI names in them: {', '.join(found.cdi_names) or 'none'}")
    print(f"  nvidia-container-runtime-hook: {found.toolkit_hook or 'not found'}")


def show_access(access: GpuAccess, title: str) -> None:
    print(f"\n== GPU access ({title}): mode {access.mode.value}")
    print(f"  why: {access.reason}")
    print(f"  modes that work here: {', '.join(m.value for m in access.available) or 'none'}")
    print(f"  CDI names the engine offers: {', '.join(access.cdi_names) or 'none / not listed'}")
    for d in access.devices:
        kind = "MIG device" if d.mig_index is not None else "GPU"
        print(f"  {kind} {d.slot}: {d.uuid} {d.name} ({d.memory_total_mb:.0f} MiB)")


def run_through(engine: Engine, access: GpuAccess, image: str) -> bool:
    """Start a container asking for the first GPU the way ``access`` says; it must see it."""
    whole = [d for d in access.devices if d.mig_index is None]
    target = whole[0].uuid if whole else "0"
    try:
        request = access.request([target])
    except CjmDockerError as exc:
        print(f"  request for {target}: REFUSED: {exc}")
        return False
    assert request is not None
    print(f"  request for GPU {target}: {request.describe()}")
    spec = ContainerSpec(image=image, name=f"cjm-gpucheck-{uuid.uuid4().hex[:8]}",
                         command=["nvidia-smi", "-L"], gpus=request,
                         labels={labels.MANAGED: "true", labels.ROLE: "gpu-check"})
    try:
        code, out, err = engine.run_once(spec, timeout=120)
    except CjmDockerError as exc:
        print(f"  container: FAILED TO START: {exc}")
        return False
    print(f"  container `nvidia-smi -L` exit {code}:")
    for line in (out + err).strip().splitlines():
        print(f"    {line}")
    first = whole[0] if whole else None
    # the GPU asked for, and its MIG devices when it has them; no other GPU
    wanted = [first.uuid] + [d.uuid for d in access.devices if d.mig_index is not None
                             and d.index == first.index] if first else []
    seen = all(u in out for u in wanted) if wanted else code == 0
    others = [d.uuid for d in whole[1:] if d.uuid in out]
    ok = code == 0 and seen and not others
    print(f"  -> {'OK' if ok else 'PROBLEM'}: sees {wanted or 'a GPU'}"
          f"{'; also sees ' + ', '.join(others) if others else ''}")
    return ok


def check_modes(provider, image: str | None, modes: list[str], run: bool = True) -> bool:
    """Print the detection and run a container through each chosen mode (every mode that works
    here when ``modes`` is empty; none when not ``run``); True when all pass."""
    try:
        engine = Engine()
    except CjmDockerError as exc:
        print(f"\n== engine: not reachable ({exc})")
        return False
    info = show_engine(engine)
    local = profile_of(engine).host_files_are_engine_files
    if local:
        show_host(info)
    auto = detect(engine, provider, local=local)
    show_access(auto, "automatic choice")
    wanted = [GpuMode(m) for m in modes] if modes else list(auto.available)
    if not run:
        print("\n(container checks skipped: --no-container)")
        return True
    if not wanted:
        print("\n(no mode works here: no container started)")
        return auto.mode is GpuMode.NONE and not auto.devices
    image = image or _any_image(engine)
    ok = True
    for mode in wanted:
        access = detect(engine, provider, local=local, prefer=mode)
        print(f"\n== a container through mode {mode.value} (image {image})")
        if not access.usable:
            print(f"  not available: {access.reason}")
            ok = False
            continue
        ok &= run_through(engine, access, image)
    return ok


def _any_image(engine: Engine) -> str:
    tags = [t for i in engine.list_images() for t in i.get("RepoTags") or [] if t != "<none>:<none>"]
    preferred = [t for t in tags if t.startswith(("cjm-docker/base-python", "debian", "ubuntu"))]
    return (preferred or tags or ["debian:bookworm-slim"])[0]


if __name__ == "__main__":
    from cjm_docker.telemetry import detect_gpu_provider

    sys.exit(0 if check_modes(detect_gpu_provider(), None, sys.argv[1:]) else 1)
