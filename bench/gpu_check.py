"""GPU check for a machine with an NVIDIA GPU: `python bench/gpu_check.py`.

First, how the engine offers GPUs (``bench/gpu_modes.py``): the ``docker info`` fields read, the
CDI spec files and toolkit hook found on this machine, the mode chosen and why, and — for each mode
that works here (nvidia runtime / hook, CDI), or those given with ``--modes`` — a real container
started through ``Engine.create_and_start`` asking for GPU 0 that way, which must list that GPU
(and its MIG devices) with ``nvidia-smi -L`` and no other.

Then it exercises the real ``NvmlProvider`` (nvidia-ml-py) and the ``NvidiaSmiProvider`` fallback and
prints what each reports side by side; then, unless ``--no-allocate``, holds some GPU memory in a
child process (CUDA driver API through ctypes: no torch needed) and checks that both providers see
that process and its memory, and that the process is mapped to "no container" (it runs on the
host). Finally it shows the stats dict the schedulers read and where placement would put a plugin.

Needs only nvidia-ml-py, psutil and this package. Exit code 0 when NVML works, the two
providers agree on the GPUs and every container check passed; 1 otherwise; 2 when there is no GPU
at all (the engine section is printed all the same).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gpu_modes import check_modes  # noqa: E402

from cjm_docker.gpu_access import decide  # noqa: E402
from cjm_docker.scheduling import Requirements, plan_placement  # noqa: E402
from cjm_docker.telemetry import NvidiaSmiProvider, NvmlProvider, Telemetry  # noqa: E402
from cjm_docker.telemetry.cgroups import container_of_pid  # noqa: E402


def hold_gpu_memory(mb: int, ready, done) -> None:
    """Child process: allocate ``mb`` MiB on GPU 0 with the CUDA driver API, hold until told."""
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError as exc:
        ready.put(f"no libcuda: {exc}")
        return
    ctx, ptr, dev = ctypes.c_void_p(), ctypes.c_uint64(), ctypes.c_int()
    for step, rc in (("cuInit", cuda.cuInit(0)), ("cuDeviceGet", cuda.cuDeviceGet(ctypes.byref(dev), 0)),
                     ("cuCtxCreate", cuda.cuCtxCreate_v2(ctypes.byref(ctx), 0, dev)),
                     ("cuMemAlloc", cuda.cuMemAlloc_v2(ctypes.byref(ptr), ctypes.c_size_t(mb << 20)))):
        if rc != 0:
            ready.put(f"{step} failed with CUDA error {rc}")
            return
    ready.put(os.getpid())
    done.get(timeout=120)


def show_gpus(title: str, provider) -> list:
    started = time.perf_counter()
    gpus = provider.gpus()
    took = (time.perf_counter() - started) * 1000
    print(f"\n== {title} ({took:.1f} ms){'' if gpus else ': ' + str(provider.last_error)}")
    for g in gpus:
        print(f"  GPU {g.index} {g.name} {g.uuid}\n"
              f"    total {g.memory_total_mb:.0f} MiB, used {g.memory_used_mb:.0f}, "
              f"free {g.memory_free_mb:.0f}, util {g.utilization_percent}%, "
              f"temp {g.temperature_c} C")
    return gpus


def compare(nvml_gpus: list, smi_gpus: list) -> bool:
    print("\n== NVML vs nvidia-smi")
    if len(nvml_gpus) != len(smi_gpus):
        print(f"  GPU count differs: {len(nvml_gpus)} vs {len(smi_gpus)}")
        return False
    ok = True
    for a, b in zip(nvml_gpus, smi_gpus, strict=True):
        same_uuid = a.uuid == b.uuid
        d_total = a.memory_total_mb - b.memory_total_mb
        d_used = a.memory_used_mb - b.memory_used_mb
        d_free = a.memory_free_mb - b.memory_free_mb
        print(f"  GPU {a.index}: uuid {'same' if same_uuid else 'DIFFERS'}; "
              f"total {d_total:+.0f} MiB, used {d_used:+.0f} MiB, free {d_free:+.0f} MiB "
              f"(NVML v1 counts driver-reserved memory as used; recent nvidia-smi does not)")
        ok &= same_uuid and abs(d_total) <= 0.02 * max(a.memory_total_mb, 1)
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--allocate", type=int, default=512, help="MiB to hold on GPU 0")
    parser.add_argument("--no-allocate", action="store_true")
    parser.add_argument("--modes", nargs="*", choices=("runtime", "cdi"), default=None,
                        help="GPU modes to start a container through (default: every one that "
                             "works here)")
    parser.add_argument("--image", help="image for the container checks (default: a local one)")
    parser.add_argument("--no-container", action="store_true", help="skip the container checks")
    args = parser.parse_args()

    nvml, smi = NvmlProvider(), NvidiaSmiProvider()
    if nvml.driver_version():
        print(f"NVIDIA driver {nvml.driver_version()}")
    modes_ok = check_modes(nvml if nvml.available() else smi, args.image, args.modes or [],
                           run=not args.no_container)
    nvml_gpus = show_gpus("NvmlProvider (nvidia-ml-py)", nvml)
    smi_gpus = show_gpus("NvidiaSmiProvider (nvidia-smi)", smi)
    if not nvml_gpus and not smi_gpus:
        print("\nNo GPU visible to either provider.")
        return 2
    agree = compare(nvml_gpus, smi_gpus) if nvml_gpus and smi_gpus else False

    seen_ok = True
    if not args.no_allocate:
        ctx = multiprocessing.get_context("spawn")
        ready, done = ctx.Queue(), ctx.Queue()
        child = ctx.Process(target=hold_gpu_memory, args=(args.allocate, ready, done))
        child.start()
        answer = ready.get(timeout=120)
        if isinstance(answer, int):
            time.sleep(0.5)
            print(f"\n== a host process (pid {answer}) holding {args.allocate} MiB on GPU 0")
            for title, provider in (("nvml", nvml), ("nvidia-smi", smi)):
                mine = [p for p in provider.processes() if p.pid == answer]
                print(f"  {title}: {mine or 'NOT SEEN'}")
                # NVML may report a pid from another PID namespace; usedGpuMemory may be absent.
                seen_ok &= bool(mine) or title == "nvidia-smi" and not smi_gpus
            print(f"  mapped to container: {container_of_pid(answer)!r} (expected None: a host "
                  "process)")
            after = {g.index: g.memory_used_mb for g in nvml.gpus()}
            before = {g.index: g.memory_used_mb for g in nvml_gpus}
            print(f"  NVML used on GPU 0: {before.get(0, 0):.0f} -> {after.get(0, 0):.0f} MiB")
            done.put("stop")
        else:
            print(f"\n(allocation skipped: {answer})")
        child.join(30)

    telemetry = Telemetry(gpu=nvml if nvml_gpus else smi)
    stats = telemetry.stats()
    keys = ("gpu_type", "gpu_free_memory_mb", "gpu_total_memory_mb", "gpu_used_memory_mb",
            "gpu_load_percent", "memory_available_mb", "gpu_source")
    print("\n== stats dict (0.0.x keys)\n" + json.dumps({k: stats.get(k) for k in keys}, indent=2))
    gpus = telemetry.gpus()
    need = min(g.memory_free_mb for g in gpus) / 2 if gpus else 0
    migs = nvml.mig_devices()
    index_names = [f"nvidia.com/gpu={n}" for n in [str(g.index) for g in gpus]
                   + [f"{m.parent_index}:{m.mig_index}" for m in migs]]
    # the same GPUs as a runtime engine and as a CDI engine naming devices by index would see them
    for runtimes, cdi_names in (({"nvidia": {}}, []), ({}, index_names)):
        access = decide({"Runtimes": runtimes, "CDISpecDirs": ["/etc/cdi"],
                         "DiscoveredDevices": [{"Source": "cdi", "ID": n} for n in cdi_names]},
                        gpus=gpus, migs=migs)
        placement = plan_placement("example", Requirements(vram_mb=need, requires_gpu=True),
                                   access=access, gpus=gpus)
        request = placement.request.describe() if placement.request else "-"
        print(f"\n== placement ({access.mode.value}) of a plugin needing {need:.0f} MiB: devices "
              f"{placement.device_ids} (GPU {placement.gpu_indices}, fits={placement.fits}); "
              f"asked for with {request}")
    ok = bool(nvml_gpus) and agree and seen_ok and modes_ok
    print(f"\nRESULT: {'OK' if ok else 'PROBLEMS (see above)'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
