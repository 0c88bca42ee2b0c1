"""Project configuration: cjm.yaml, then CJM_* environment variables, then CLI flags.

The layering and the paths follow cjm-plugin-system (``data_dir`` with ``manifests/``, ``logs/``
and ``data/``; ``models_dir``), plus what containers need: base images, the registry mirror,
extra CA certificates, proxy and package-index settings, the bootstrap policy, the transport.
"""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cjm_docker import envvars
from cjm_docker.errors import ConfigError

DEFAULT_CONFIG_NAME = "cjm.yaml"
HOST_EXTRA_CA_DIR = Path("/usr/local/share/ca-certificates")


class BootstrapPolicy(str, Enum):
    """What setup-runtime does when a base image cannot be pulled."""

    AUTO = "auto"      # pull; bootstrap locally when the pull fails
    NEVER = "never"    # pull only
    ALWAYS = "always"  # bootstrap without trying to pull


class Transport(str, Enum):
    """How the host reaches a worker."""

    AUTO = "auto"  # chosen per engine (cjm_docker.engine_kind): unix on Linux, tcp on Desktop
    UNIX = "unix"  # a socket in the bind-mounted runtime folder; the container needs no network
    TCP = "tcp"    # a port published on 127.0.0.1 only


class GpuModeSetting(str, Enum):
    """How GPUs are requested from the engine (cjm_docker.gpu_access)."""

    AUTO = "auto"        # the nvidia runtime where it works, else CDI devices
    RUNTIME = "runtime"  # DeviceRequests with driver nvidia (--gpus)
    CDI = "cdi"          # CDI devices nvidia.com/gpu=... (Docker 25+ with CDI on)


class BaseImages(BaseModel):
    """Base image references; ``{python_version}`` is filled in per plugin."""

    model_config = ConfigDict(extra="forbid")
    python: str = "python:{python_version}-slim-bookworm"
    micromamba: str = "mambaorg/micromamba:2.0.5-bookworm-slim"


class ContainerLimits(BaseModel):
    """Limits of every container cjm-docker starts (workers, introspection, builds) where the
    plugin's ``resources:`` in plugins.yaml sets none: a plugin is never unbounded."""

    model_config = ConfigDict(extra="forbid")
    memory: str | int = "4g"
    cpus: float = Field(default=2.0, gt=0, le=1024)
    pids: int = Field(default=512, gt=0)
    log_max_size: str = Field(default="10m", pattern=r"^[1-9][0-9]{0,5}[kmg]?$")
    log_max_files: int = Field(default=3, ge=1, le=100)

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: str | int) -> str | int:
        from cjm_docker.spec.plugins_file import parse_memory  # the one size grammar
        parse_memory(value)
        return value

    @property
    def memory_bytes(self) -> int:
        from cjm_docker.spec.plugins_file import parse_memory
        return parse_memory(self.memory)

    @property
    def nano_cpus(self) -> int:
        return int(self.cpus * 1e9)


class DockerSettings(BaseModel):
    """Everything the image and container side needs beyond paths."""

    model_config = ConfigDict(extra="forbid")
    base_images: BaseImages = Field(default_factory=BaseImages)
    registry_mirror: str = ""
    image_prefix: str = "cjm-plugin"
    # The shared images plugin images build on (docs/images.md): one worker runtime per base and
    # Python version, and one stack per set of large locked packages that plugins share.
    runtime_repository: str = "cjm-runtime"
    stack_repository: str = "cjm-stack"
    # The Docker volume that keeps uv's package cache between builds (shared by every build).
    package_cache: str = "cjm-package-cache"
    # A locked package whose wheel is at least this large goes into the shared stack layer.
    stack_threshold_mb: float = Field(default=4.0, ge=0)
    ca_certificates: list[Path] | None = None  # None: the host's extra CAs, found automatically
    http_proxy: str | None = None
    https_proxy: str | None = None
    no_proxy: str | None = None
    pip_index_url: str | None = None
    pip_extra_index_url: str | None = None
    # Where conda channels come from, by the name env specs use: a mirror URL or a local
    # channel folder (`conda-forge: https://mirror.example/conda-forge`, `local: ./channel`).
    conda_channels: dict[str, str] = Field(default_factory=dict)
    bootstrap: BootstrapPolicy = BootstrapPolicy.AUTO
    debian_mirror: str = "http://deb.debian.org/debian"
    transport: Transport = Transport.AUTO
    gpu_mode: GpuModeSetting = GpuModeSetting.AUTO
    lease_timeout: float = Field(default=15.0, gt=0, le=3600)
    start_timeout: float = Field(default=60.0, gt=0)
    stop_timeout: float = Field(default=5.0, ge=0)
    limits: ContainerLimits = Field(default_factory=ContainerLimits)
    max_answer_mb: float = Field(default=256.0, gt=0)

    @property
    def max_answer_bytes(self) -> int:
        """The largest answer or stream frame read from a worker."""
        return int(self.max_answer_mb * (1 << 20))


class CjmConfig(BaseModel):
    """The resolved configuration."""

    model_config = ConfigDict(extra="forbid")
    data_dir: Path = Field(default_factory=lambda: Path.home() / ".cjm")
    plugins_config: Path = Path("plugins.yaml")
    models_dir: Path | None = None
    runtime_dir: Path | None = None
    # Manifest folders searched after the data dir's, on the user's word only (docs/security.md).
    manifest_search_paths: list[Path] = Field(default_factory=list)
    docker: DockerSettings = Field(default_factory=DockerSettings)

    @property
    def manifests_dir(self) -> Path:
        """Where install-all writes one manifest per plugin."""
        return self.data_dir / "manifests"

    @property
    def plugin_data_dir(self) -> Path:
        """Parent of each plugin's persistent data folder (``CJM_DATA_DIR`` in containers)."""
        return self.data_dir / "data"

    @property
    def logs_dir(self) -> Path:
        """Host-side logs (build logs; worker logs stay with the container)."""
        return self.data_dir / "logs"

    @property
    def exchange_dir(self) -> Path:
        """Where FileBackedDTO arguments are written; mounted at the same path in containers."""
        return self.data_dir / "exchange"

    @property
    def resolved_runtime_dir(self) -> Path:
        """Per-container runtime folders. Kept short: a Unix socket path has ~107 bytes."""
        if self.runtime_dir is not None:
            return self.runtime_dir
        return Path("/tmp") / f"cjm-docker-{os.getuid()}"

    def ca_certificate_files(self) -> list[Path]:
        """The extra CA certificates to trust inside images, sorted for stable builds."""
        if self.docker.ca_certificates is not None:
            return sorted(Path(p) for p in self.docker.ca_certificates)
        if HOST_EXTRA_CA_DIR.is_dir():
            return sorted(HOST_EXTRA_CA_DIR.rglob("*.crt"))
        return []

    def proxy_settings(self) -> dict[str, str]:
        """Proxy variables for builds: from the config, else from the host environment."""
        out: dict[str, str] = {}
        configured = {"HTTP_PROXY": self.docker.http_proxy, "HTTPS_PROXY": self.docker.https_proxy,
                      "NO_PROXY": self.docker.no_proxy}
        for name, value in configured.items():
            value = value if value is not None else (os.environ.get(name) or os.environ.get(name.lower()))
            if value:
                out[name] = value
        return out


def _resolve_relative(data: dict[str, Any], base: Path) -> None:
    for key in ("data_dir", "plugins_config", "models_dir", "runtime_dir"):
        if data.get(key):
            p = Path(str(data[key])).expanduser()
            data[key] = p if p.is_absolute() else (base / p).resolve()
    if isinstance(data.get("manifest_search_paths"), list):
        data["manifest_search_paths"] = [
            p if p.is_absolute() else (base / p).resolve()
            for p in (Path(str(item)).expanduser() for item in data["manifest_search_paths"])]
    channels = (data.get("docker") or {}).get("conda_channels")
    if isinstance(channels, dict):  # local channel folders, relative to cjm.yaml
        data["docker"]["conda_channels"] = {
            k: str((base / str(v)).resolve()) if str(v).startswith(("./", "../")) else v
            for k, v in channels.items()}
    certs = (data.get("docker") or {}).get("ca_certificates")
    if certs:
        data["docker"]["ca_certificates"] = [
            p if Path(p).is_absolute() else (base / p).resolve() for p in map(str, certs)]


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"Cannot read config file {path}: {exc.strerror}.") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must be a mapping of settings, not {type(data).__name__}.")
    _resolve_relative(data, path.parent.resolve())
    return data


def _from_environment(data: dict[str, Any]) -> None:
    env = os.environ
    for var, key in ((envvars.DATA_DIR, "data_dir"), (envvars.MODELS_DIR, "models_dir"),
                     (envvars.RUNTIME_DIR, "runtime_dir")):
        if env.get(var):
            data[key] = Path(env[var]).expanduser().resolve()
    docker = data.setdefault("docker", {})
    for var, key in ((envvars.TRANSPORT, "transport"), (envvars.GPU_MODE, "gpu_mode"),
                     (envvars.REGISTRY_MIRROR, "registry_mirror"),
                     (envvars.PIP_INDEX_URL, "pip_index_url"),
                     (envvars.PIP_EXTRA_INDEX_URL, "pip_extra_index_url"),
                     (envvars.BOOTSTRAP, "bootstrap"), (envvars.DEBIAN_MIRROR, "debian_mirror"),
                     (envvars.LEASE_TIMEOUT, "lease_timeout")):
        if env.get(var):
            docker[key] = env[var]
    if env.get(envvars.CA_CERTS):
        docker["ca_certificates"] = [p for p in env[envvars.CA_CERTS].split(os.pathsep) if p]


def load_config(config_path: Path | None = None, *, data_dir: Path | None = None,
                models_dir: Path | None = None, overrides: dict[str, Any] | None = None) -> CjmConfig:
    """Resolve the configuration (defaults < cjm.yaml < CJM_* variables < arguments).

    Args:
        config_path: the cjm.yaml to read; else ``$CJM_CONFIG``, else ``./cjm.yaml`` if present.
        data_dir: CLI override of the data root.
        models_dir: CLI override of the models folder.
        overrides: further ``docker`` settings from CLI flags.

    Raises:
        ConfigError: the file is unreadable or a setting is invalid (names the setting).
    """
    explicit = config_path or (Path(os.environ[envvars.CONFIG_FILE])
                               if os.environ.get(envvars.CONFIG_FILE) else None)
    if explicit is not None and not explicit.is_file():
        state = "is not a file" if explicit.exists() else "does not exist"
        raise ConfigError(f"Config file {explicit} {state}.",
                          hint="Check --cjm-config / CJM_CONFIG.")
    path = explicit or (Path.cwd() / DEFAULT_CONFIG_NAME)
    data = _read_yaml(path) if path.is_file() else {}
    _from_environment(data)
    if data_dir is not None:
        data["data_dir"] = data_dir.expanduser().resolve()
    if models_dir is not None:
        data["models_dir"] = models_dir.expanduser().resolve()
    if overrides:
        data.setdefault("docker", {}).update(overrides)
    for key in ("data_dir", "models_dir"):
        folder = data.get(key)
        if folder is not None and Path(folder).exists() and not Path(folder).is_dir():
            raise ConfigError(f"The {key} {folder} is a file, not a folder.",
                              hint=f"Pass a folder (--{key.replace('_', '-')}, "
                                   f"CJM_{key.upper()} or {key} in cjm.yaml).")
    try:
        return CjmConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"Invalid configuration ({path if path.is_file() else 'environment'}): "
                          f"{problems}.") from exc


_current: CjmConfig | None = None


def get_config() -> CjmConfig:
    """The current configuration, loaded on first use."""
    global _current
    if _current is None:
        _current = load_config()
    return _current


def set_config(config: CjmConfig) -> None:
    """Make ``config`` current (the CLI does this once per invocation)."""
    global _current
    _current = config


def reset_config() -> None:
    """Forget the current configuration (tests)."""
    global _current
    _current = None
