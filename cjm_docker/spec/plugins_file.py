"""plugins.yaml: the models, and a loader whose every error names the file, plugin and key.

Every key of cjm-plugin-system's format works unchanged (``name``, ``env_name``, ``env_file``,
``python_version``, ``package``, ``interface_libs``); cjm-docker adds per-plugin ``base_image``,
``system_packages``, ``resources``, ``env``, ``volumes``, ``network``, ``build_args``, ``flavor``,
``import_name``, ``editable``, and for ``cjm-ctl test`` / ``ci-matrix`` ``samples`` and ``ci``.
``cjm-ctl schema`` prints the JSON Schema of ``PluginsFile``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from cjm_docker.errors import SpecError
from cjm_docker.name_rule import MAX_NAME_LENGTH, NAME_PATTERN, name_problem
from cjm_docker.spec.location import Location
from cjm_docker.spec.problems import describe_errors, plugin_label

# Values that reach a Dockerfile are checked by whole-string matches (fullmatch): ``$`` in
# re.match also accepts a trailing newline, which would start a new Dockerfile instruction.
_ENV_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_APT_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]+(?:=[A-Za-z0-9.+~:-]+)?")
# A Docker image reference: [registry[:port]/]path[:tag][@digest] (distribution's grammar).
_IMAGE_REF = re.compile(
    r"(?:(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.(?:[A-Za-z0-9](?:[A-Za-z0-9-]*"
    r"[A-Za-z0-9])?))*(?::[0-9]{1,5})?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?")
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
Scalar = str | int | float | bool
# The CPython minors a plugin may ask for: released, with a python base image to pull (this
# machine bootstraps only those a Debian release ships: see images/bases.py).
PYTHON_VERSIONS = ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14")


def parse_memory(value: str | int) -> int:
    """``"512m"``, ``"2g"``, ``"1.5GiB"`` or a byte count, to bytes (1024-based, as Docker)."""
    if isinstance(value, bool):
        raise ValueError("memory must be a size such as '512m' or '2g', not a boolean")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError("memory must be positive")
        return value
    match = _MEMORY.match(str(value))
    if match is None:
        raise ValueError(f"{value!r} is not a size (use e.g. '512m', '2g' or a byte count)")
    size = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    if size < 6 * 1024**2:
        raise ValueError(f"{value!r} is below Docker's minimum of 6 MiB")
    return size


class GpuSpec(BaseModel):
    """``resources.gpu`` as a mapping."""

    model_config = ConfigDict(extra="forbid")
    count: int = Field(default=1, ge=1, description="How many GPUs the container gets.")
    min_memory_mb: int = Field(default=0, ge=0, description="Free GPU memory needed to start.")
    allow_cpu_fallback: bool = Field(default=False, description="Run on the CPU when no GPU runtime exists.")


class ResourcesSpec(BaseModel):
    """Container limits: memory, CPUs, process count, GPUs."""

    model_config = ConfigDict(extra="forbid")
    memory: str | int | None = Field(default=None, description="Memory limit, e.g. '512m', '2g'.")
    cpus: float | None = Field(default=None, gt=0, le=1024, description="CPU limit (fractions allowed).")
    pids: int | None = Field(default=None, gt=0, description=(
        "Process/thread limit (default: cjm.yaml docker.limits.pids, 512)."))
    gpu: bool | int | GpuSpec | None = Field(
        default=None, description="true, a GPU count, or {count, min_memory_mb, allow_cpu_fallback}.")

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: str | int | None) -> str | int | None:
        if value is not None:
            parse_memory(value)
        return value

    @field_validator("gpu")
    @classmethod
    def _gpu(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            raise ValueError("a GPU count cannot be negative")
        return value


class VolumeSpec(BaseModel):
    """An extra bind mount."""

    model_config = ConfigDict(extra="forbid")
    source: str = Field(min_length=1, description="Host path (relative: to the plugins.yaml folder).")
    target: str = Field(min_length=1, description="Absolute path inside the container.")
    read_only: bool = False

    @field_validator("target")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"target {value!r} must be an absolute path")
        return value


class SampleCall(BaseModel):
    """A call ``cjm-ctl test`` makes to the plugin, and what its result must satisfy."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, description="Shown in the report (default: sample #N).")
    args: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments of the call.")
    stream: bool = Field(default=False, description="Call execute_stream; the checks see the chunks as a list.")
    timeout: float = Field(default=30.0, gt=0, description="Seconds the call may take.")
    expect: Any = Field(default=None, description="The exact result (omit to skip).")
    expect_keys: list[str] = Field(default_factory=list, description="Keys the result mapping must have.")
    expect_type: Literal["object", "array", "string", "number", "integer", "boolean", "null"] | None = \
        Field(default=None, description="The JSON type of the result.")
    contains: Any = Field(default=None, description="A substring of a string result, an item of a "
                                                    "list, or a sub-mapping of a mapping result.")


class CiSpec(BaseModel):
    """How ``cjm-ctl ci-matrix`` spreads this plugin's CI jobs."""

    model_config = ConfigDict(extra="forbid")
    python: list[str] = Field(default_factory=list, description="Host Python versions of the CI job.")
    runs_on: list[str] = Field(default_factory=list, description="GitHub runner labels.")


class PluginEntry(BaseModel):
    """One plugin in plugins.yaml."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="The plugin's name in plugins.yaml; also the image repository.",
                      json_schema_extra={"pattern": f"^{NAME_PATTERN}$",
                                         "maxLength": MAX_NAME_LENGTH})
    env_name: str | None = Field(default=None, description="cjm-plugin-system's conda env name (kept; unused).")
    env_file: str | None = Field(default=None, description="environment.yml: a path or an http(s) URL.")
    python_version: str | float | None = Field(
        default=None, description="Python X.Y (quote it: '3.10'): " + ", ".join(PYTHON_VERSIONS) + ".")
    package: str = Field(min_length=1, description="pip spec of the plugin: name, URL, git+URL or path.")
    interface_libs: list[str] = Field(default_factory=list, description="pip specs installed before package.")
    base_image: str | None = Field(default=None, description="Replace the flavor's base image.")
    system_packages: list[str] = Field(default_factory=list, description="Debian packages (apt).")
    resources: ResourcesSpec = Field(default_factory=ResourcesSpec)
    env: dict[str, Scalar] = Field(default_factory=dict, description="Environment of the container.")
    volumes: list[VolumeSpec | str] = Field(default_factory=list,
                                            description="Extra mounts: 'src:dst[:ro]' or a mapping.")
    network: bool | str | None = Field(default=None,
                                       description="Off by default; true = bridge, or a network name.")
    build_args: dict[str, Scalar] = Field(default_factory=dict, description="Docker build args.")
    flavor: Literal["auto", "python", "rattler", "micromamba"] = Field(
        default="auto", description="Force a flavor; auto = rattler for conda packages, else python.")
    editable: bool = Field(
        default=False, description="Development: mount the local package folder read-only over "
                                   "the installed code, so a code change needs only a reload.")
    import_name: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                                    description="Top-level module holding meta.py, when not derivable.")
    samples: list[SampleCall] = Field(default_factory=list,
                                      description="Calls `cjm-ctl test` makes, with expected results.")
    ci: CiSpec = Field(default_factory=CiSpec, description="CI matrix axes (`cjm-ctl ci-matrix`).")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        problem = name_problem(value)
        if problem is not None:
            raise ValueError(f"{problem} (it names the image and the plugin's folders)")
        return value

    @field_validator("python_version", mode="before")
    @classmethod
    def _python_version(cls, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, bool):
            raise ValueError("must be a version such as '3.11'")
        text = str(value)
        if isinstance(value, float) and re.fullmatch(r"3\.\d", text):
            raise ValueError(f"YAML read this as the number {text} (3.10 becomes 3.1); quote the "
                             "version, e.g. '3.10'")
        if not re.fullmatch(r"3\.\d{1,2}(\.\d{1,3})?", text):
            raise ValueError(f"{value!r} is not a Python 3 version such as '3.11'")
        if ".".join(text.split(".")[:2]) not in PYTHON_VERSIONS:
            raise ValueError(f"Python {text} is not a version plugins can run on (choices: "
                             f"{', '.join(PYTHON_VERSIONS)})")
        return text

    @field_validator("system_packages")
    @classmethod
    def _apt_names(cls, value: list[str]) -> list[str]:
        for item in value:
            if not _APT_NAME.fullmatch(item):
                raise ValueError(f"{item!r} is not a Debian package name")
        return value

    @field_validator("env", "build_args")
    @classmethod
    def _names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key, item in value.items():
            if not re.fullmatch(_ENV_NAME, key):
                raise ValueError(f"{key!r} is not a valid variable name")
            if any(c in str(item) for c in "\n\r\0"):
                raise ValueError(f"the value of {key} contains a line break or NUL")
        return value

    @field_validator("base_image")
    @classmethod
    def _base_image(cls, value: str | None) -> str | None:
        if value is not None and not _IMAGE_REF.fullmatch(value):
            raise ValueError(f"{value!r} is not an image reference such as "
                             "'python:3.11-slim' or 'registry:5000/team/base:1.2'")
        return value

    @field_validator("network")
    @classmethod
    def _network(cls, value: Any) -> Any:
        if isinstance(value, str) and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", value):
            raise ValueError(f"{value!r} is not a network name (use true, 'bridge' or a network)")
        return value

    @field_validator("interface_libs", "system_packages")
    @classmethod
    def _non_empty(cls, value: list[str]) -> list[str]:
        for item in value:
            if not item.strip():
                raise ValueError("entries must be non-empty")
        return value


class PluginsFile(BaseModel):
    """The whole plugins.yaml."""

    model_config = ConfigDict(extra="forbid", title="cjm-docker plugins.yaml")
    plugins: list[PluginEntry] = Field(description="The plugins, in install order.")
    _path: Path | None = PrivateAttr(default=None)

    @property
    def path(self) -> Path | None:
        """The file this was read from (None when built in code)."""
        return self._path

    def names(self) -> list[str]:
        """The plugin names, in file order."""
        return [p.name for p in self.plugins]

    @property
    def base_dir(self) -> Path:
        """The folder relative paths resolve against."""
        return self._path.parent if self._path else Path.cwd()


def json_schema() -> dict[str, Any]:
    """The JSON Schema of plugins.yaml, for editors."""
    schema = PluginsFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def model_at(keys: list[str], in_plugin: bool) -> type[BaseModel] | None:
    """The model whose keys an error at ``keys`` concerns (for "allowed keys" and suggestions)."""
    names = [k for k in keys if not k.startswith("[")]
    if not in_plugin:
        return PluginsFile if len(names) == 1 else None
    path = tuple(names[:-1])
    models: dict[tuple[str, ...], type[BaseModel]] = {
        (): PluginEntry, ("resources",): ResourcesSpec, ("volumes",): VolumeSpec,
        ("resources", "gpu"): GpuSpec, ("samples",): SampleCall, ("ci",): CiSpec}
    return models.get(path)


def load_plugins_file(path: Path) -> PluginsFile:
    """Read and validate plugins.yaml.

    Raises:
        SpecError: missing file, malformed YAML, wrong shape, unknown keys, invalid values,
            duplicate names. The message names the file, the plugin and the key.
    """
    where = Location(str(path))
    try:
        text = path.read_text()
    except FileNotFoundError as exc:
        raise where.error("plugins file not found.",
                          hint="Pass --plugins PATH or set plugins_config in cjm.yaml.") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise where.error(f"cannot read the plugins file: {exc}.") from exc
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise where.error(f"not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise where.error(f"must be a mapping with a 'plugins' list, not {type(doc).__name__}.")
    raw_plugins = doc.get("plugins")
    if "plugins" in doc and not isinstance(raw_plugins, list):
        raise where.at("plugins").error(f"must be a list of plugin entries, not "
                                        f"{type(raw_plugins).__name__}.")
    try:
        parsed = PluginsFile.model_validate(doc)
    except ValidationError as exc:
        problems = describe_errors(exc, raw_plugins, path, model_at)
        first_plugin = next((plugin_label(raw_plugins[e["loc"][1]], e["loc"][1])
                             for e in exc.errors() if len(e["loc"]) > 1 and e["loc"][0] == "plugins"
                             and isinstance(e["loc"][1], int) and isinstance(raw_plugins, list)
                             and e["loc"][1] < len(raw_plugins)), None)
        text = problems[0] if len(problems) == 1 else (
            f"{path}: {len(problems)} problems:\n" + "\n".join(f"- {p}" for p in problems))
        raise SpecError(text, plugin=first_plugin) from exc
    seen: dict[str, int] = {}
    for i, entry in enumerate(parsed.plugins):
        other = seen.setdefault(entry.name.lower(), i)
        if other != i:
            raise Location(str(path), entry.name, "name").error(
                f"entries {other + 1} and {i + 1} share this name; names must be unique.")
    parsed._path = path.resolve()
    return parsed
