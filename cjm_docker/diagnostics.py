"""``cjm-ctl doctor``'s checks: is this machine ready to build and run plugin containers?

Each check returns a ``CheckResult`` (status, what was found, what to do when it is not ok). The
checks are plain functions of the configuration, an engine and a GPU provider, so they are
tested with fakes; the CLI only renders them.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from cjm_docker.config import CjmConfig, Transport
from cjm_docker.engine_kind import EngineKind, EngineProfile, profile_of
from cjm_docker.errors import CjmDockerError
from cjm_docker.gpu_access import GpuAccess, gpu_access_for
from cjm_docker.images.bases import MICROMAMBA_ALIAS, PYTHON_REPO
from cjm_docker.telemetry.gpu import GpuProvider, detect_gpu_provider

GIB = 1024**3
DISK_WARN_GIB = 10.0
DISK_FAIL_GIB = 2.0
# The same names setup-runtime makes and Dockerfiles start from (one name per base image).
PYTHON_BASE_REPO = PYTHON_REPO
MICROMAMBA_BASE = MICROMAMBA_ALIAS
_TOOLKIT = ("Install the NVIDIA Container Toolkit, then either run `sudo nvidia-ctk runtime "
            "configure --runtime=docker` and restart dockerd, or (Docker 25+) enable CDI and "
            "run `sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml` (only GPU plugins "
            "need it).")


class Status(str, Enum):
    OK = "ok"
    INFO = "info"    # nothing wrong, worth knowing
    WARN = "warn"    # works, with a limitation
    FAIL = "fail"    # something will not work until fixed


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    detail: str
    remedy: str = ""


def _redact(url: str) -> str:
    """A proxy URL without its password."""
    return re.sub(r"//([^:/@]+):[^@/]*@", r"//\1:***@", url)


def check_engine(engine_factory: Callable[[], Any]) -> tuple[CheckResult, Any | None]:
    try:
        engine = engine_factory()
        v = engine.version()
    except CjmDockerError as exc:
        return CheckResult("engine", Status.FAIL, exc.message,
                           exc.hint or "Start dockerd and check DOCKER_HOST."), None
    endpoint = getattr(engine, "reached", None)   # which engine, and why that one
    reached = f", at {endpoint.describe()}" if endpoint is not None else ""
    return CheckResult("engine", Status.OK,
                       f"Docker {v.get('Version', '?')} (API {v.get('ApiVersion', '?')}), "
                       f"{v.get('Os', '?')}/{v.get('Arch', '?')}{reached}"), engine


def check_engine_kind(profile: EngineProfile, transport: Transport) -> CheckResult:
    """What kind of engine this is, and the transport and container user that follow."""
    try:
        used = profile.check_transport(transport)
    except CjmDockerError as exc:
        return CheckResult("engine kind", Status.FAIL, f"{profile.describe()}: {exc.message}",
                           exc.hint or "")
    detail = profile.describe(used)
    if profile.kind is EngineKind.REMOTE:
        return CheckResult("engine kind", Status.WARN, f"{detail}: plugins cannot be started from "
                           "here (their folders would not be there)",
                           "Deploy on that machine and use attach mode (docs/deploy.md), or "
                           "point DOCKER_HOST / the docker context at this machine's engine.")
    if profile.kind is EngineKind.ROOTLESS:
        detail += "; containers run as uid 0, which is your user on this machine"
    if profile.kind is EngineKind.DESKTOP:
        detail += "; the data dir must be in a folder Docker Desktop shares"
    return CheckResult("engine kind", Status.OK, detail)


def check_runtimes(info: dict[str, Any]) -> CheckResult:
    runtimes = sorted(info.get("Runtimes") or {})
    default = info.get("DefaultRuntime", "runc")
    detail = f"{', '.join(runtimes) or 'none listed'} (default {default})"
    # GPUs may come through CDI or the toolkit's hook: the "gpu access" row judges that
    return CheckResult("runtimes", Status.OK if "nvidia" in runtimes else Status.INFO, detail)


def check_gpu_access(access: GpuAccess) -> CheckResult:
    """How the engine hands GPUs to containers (``cjm_docker.gpu_access``)."""
    if access.usable:
        example = access.request([access.devices[0].uuid if access.devices else "0"])
        how = f"; a container asks with {example.describe()}" if example else ""
        others = [m.value for m in access.available if m is not access.mode]
        also = f" ({', '.join(others)} would work too)" if others else ""
        return CheckResult("gpu access", Status.OK,
                           f"{access.mode.value}{also}: {access.reason}{how}")
    seen = any(d.mig_index is None for d in access.devices)
    return CheckResult("gpu access", Status.WARN if seen else Status.INFO,
                       f"none: {access.reason}; GPU plugins run on the CPU where their spec "
                       "allows it, else fail to load", _TOOLKIT if seen else "")


def check_gpus(provider: GpuProvider, access: GpuAccess | None) -> CheckResult:
    gpus = provider.gpus()
    migs = [d for d in access.devices if d.mig_index is not None] if access else []
    if gpus:
        listing = "; ".join(f"{g.index}: {g.name}, {g.memory_free_mb:.0f}/"
                            f"{g.memory_total_mb:.0f} MiB free" for g in gpus)
        if migs:
            listing += f"; MIG devices {', '.join(d.slot for d in migs)}"
        if access is not None and not access.usable:
            return CheckResult("gpus", Status.WARN, f"{listing} (via {provider.name}), but Docker "
                               "cannot hand them to containers", _TOOLKIT)
        return CheckResult("gpus", Status.OK, f"{listing} (via {provider.name})")
    reason = provider.last_error or "no GPU found"
    if access is not None and access.usable:
        return CheckResult("gpus", Status.WARN, f"the engine offers GPUs ({access.mode.value}) "
                           f"but no GPU figures can be read ({reason}): placement is unchecked",
                           "Make libnvidia-ml.so visible to this Python (install the driver "
                           "utilities) or put nvidia-smi on PATH.")
    return CheckResult("gpus", Status.INFO, f"none ({reason}); plugins run on the CPU")


def check_disk(label: str, path: Path | None) -> CheckResult:
    probe = path
    while probe is not None and not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if probe is None or not probe.exists():
        return CheckResult(f"disk ({label})", Status.INFO, f"{path}: not visible from here")
    try:
        usage = shutil.disk_usage(probe)
    except OSError as exc:
        return CheckResult(f"disk ({label})", Status.INFO, f"{probe}: {exc.strerror}")
    free = usage.free / GIB
    detail = f"{free:.1f} GiB free of {usage.total / GIB:.0f} GiB at {path}"
    remedy = "Free space: `cjm-ctl gc`, `docker image prune`, `docker builder prune`."
    if free < DISK_FAIL_GIB:
        return CheckResult(f"disk ({label})", Status.FAIL, detail, remedy)
    if free < DISK_WARN_GIB:
        return CheckResult(f"disk ({label})", Status.WARN, detail, remedy)
    return CheckResult(f"disk ({label})", Status.OK, detail)


def check_base_images(engine: Any, python_version: str) -> list[CheckResult]:
    tags = sorted({t for image in engine.list_images() for t in image.get("RepoTags") or []})
    python_tags = [t for t in tags if t.startswith(PYTHON_BASE_REPO + ":")]
    wanted = f"{PYTHON_BASE_REPO}:{python_version}"
    if wanted in python_tags:
        python = CheckResult("base image (python)", Status.OK, ", ".join(python_tags))
    elif python_tags:
        python = CheckResult("base image (python)", Status.WARN,
                             f"{wanted} missing (present: {', '.join(python_tags)})",
                             f"`cjm-ctl setup-runtime` (plugins without python_version use "
                             f"{python_version}).")
    else:
        python = CheckResult("base image (python)", Status.FAIL, f"{wanted} missing",
                             "`cjm-ctl setup-runtime` (pulls, or bootstraps from Debian when "
                             "no registry answers).")
    if MICROMAMBA_BASE in tags:
        mamba = CheckResult("base image (micromamba)", Status.OK, MICROMAMBA_BASE)
    else:
        mamba = CheckResult("base image (micromamba)", Status.WARN, f"{MICROMAMBA_BASE} missing",
                            "`cjm-ctl setup-runtime` (needed only by plugins with a conda "
                            "environment; it must be pulled or `docker load`ed).")
    return [python, mamba]


def check_proxy(config: CjmConfig, info: dict[str, Any] | None) -> CheckResult:
    builds = {k: _redact(v) for k, v in config.proxy_settings().items()}
    detail = ", ".join(f"{k}={v}" for k, v in builds.items()) or "none"
    detail = f"builds: {detail}"
    if info is not None:
        daemon = {k: _redact(info[k]) for k in ("HttpProxy", "HttpsProxy", "NoProxy") if info.get(k)}
        detail += f"; dockerd: {', '.join(f'{k}={v}' for k, v in daemon.items()) or 'none'}"
    index = config.docker.pip_index_url
    if index:
        detail += f"; pip index: {_redact(index)}"
    return CheckResult("proxy", Status.INFO if not builds else Status.OK, detail,
                       "" if builds else "Behind a proxy, set HTTP(S)_PROXY or docker.http_proxy "
                                         "/ https_proxy in cjm.yaml so builds can reach indexes.")


def check_ca_certificates(config: CjmConfig) -> CheckResult:
    files = config.ca_certificate_files()
    if not files:
        return CheckResult("CA certificates", Status.INFO,
                           "no extra CA certificates: images trust their default CAs only",
                           "Behind a TLS-intercepting proxy, add its CA to "
                           "/usr/local/share/ca-certificates or set CJM_CA_CERTS.")
    bad = []
    for path in files:
        try:
            if b"BEGIN CERTIFICATE" not in Path(path).read_bytes():
                bad.append(f"{path} (not PEM)")
        except OSError as exc:
            bad.append(f"{path} ({exc.strerror})")
    if bad:
        return CheckResult("CA certificates", Status.FAIL, "; ".join(bad),
                           "Fix or remove them (docker.ca_certificates / CJM_CA_CERTS).")
    return CheckResult("CA certificates", Status.OK,
                       f"{len(files)} baked into images: {', '.join(map(str, files))}")


def run_checks(config: CjmConfig, *, engine_factory: Callable[[], Any] | None = None,
               gpu_provider: GpuProvider | None = None,
               python_version: str | None = None) -> list[CheckResult]:
    """Every check, in order; checks that need the engine are skipped when it is unreachable."""
    if engine_factory is None:
        from cjm_docker.engine import Engine

        engine_factory = Engine
    if python_version is None:
        import sys

        python_version = f"{sys.version_info.major}.{sys.version_info.minor}"
    result, engine = check_engine(engine_factory)
    results = [result]
    info: dict[str, Any] | None = None
    if engine is not None:
        try:
            info = engine.info()
        except CjmDockerError as exc:
            results.append(CheckResult("runtimes", Status.FAIL, exc.message, exc.hint or ""))
    provider = gpu_provider or detect_gpu_provider()
    access = None
    if info is not None:
        profile = profile_of(engine)
        results.append(check_engine_kind(profile, config.docker.transport))
        results.append(check_runtimes(info))
        access = gpu_access_for(engine, provider, config)
        results.append(check_gpu_access(access))
    results.append(check_gpus(provider, access))
    if info is not None and info.get("DockerRootDir"):
        results.append(check_disk("docker", Path(info["DockerRootDir"])))
    results.append(check_disk("data", config.data_dir))
    if engine is not None:
        try:
            results.extend(check_base_images(engine, python_version))
        except CjmDockerError as exc:
            results.append(CheckResult("base images", Status.FAIL, exc.message, exc.hint or ""))
    results.append(check_proxy(config, info))
    results.append(check_ca_certificates(config))
    return results
