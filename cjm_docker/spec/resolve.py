"""From a validated plugins.yaml to frozen ``PluginSpec`` objects: everything a build needs.

Resolving reads (or fetches) environment specs, classifies package specs, reads local projects'
pyproject.toml and chooses the flavor, so that every input problem surfaces here, before any
image is built.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from cjm_docker import naming
from cjm_docker.errors import UnknownPluginError
from cjm_docker.manifest import (
    EditableSource,
    GpuRequest,
    ResourceLimits,
    RuntimeSettings,
    VolumeMount,
)
from cjm_docker.spec.environment import EnvironmentSpec, Flavor, parse_environment
from cjm_docker.spec.location import Location
from cjm_docker.spec.plugins_file import (
    PluginEntry,
    PluginsFile,
    VolumeSpec,
    load_plugins_file,
    parse_memory,
)
from cjm_docker.spec.sources import PackageKind, PackageRef, parse_package, read_env_file


def host_python_version() -> str:
    """``X.Y`` of the interpreter running cjm-ctl: the default for plugins that name none."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


@dataclass(frozen=True)
class PluginSpec:
    """One plugin, resolved: what to install, on which base, and how to run it.

    Attributes:
        name: the plugins.yaml name (also the image repository, lower-cased).
        source: the plugins.yaml it came from.
        package: the plugin package.
        interface_libs: pip specs installed with (before) the package.
        environment: the parsed environment spec, when ``env_file`` is set.
        python_version: ``X.Y`` (or ``X.Y.Z``) the image's Python should have.
        flavor: python or micromamba.
        base_image: an explicit base image instead of the flavor's alias.
        system_packages: Debian packages, sorted (git added for VCS specs).
        runtime: how the host starts the container.
        build_args: Docker build args, sorted.
        import_name: the module whose ``meta.get_plugin_metadata()`` describes the plugin.
        env_name: cjm-plugin-system's env name (kept for compatibility; informational).
    """

    name: str
    source: Path
    package: PackageRef
    interface_libs: tuple[PackageRef, ...]
    environment: EnvironmentSpec | None
    python_version: str
    flavor: Flavor
    base_image: str | None
    system_packages: tuple[str, ...]
    runtime: RuntimeSettings
    build_args: tuple[tuple[str, str], ...]
    import_name: str
    env_name: str | None = None

    @property
    def python_minor(self) -> str:
        """``X.Y`` of ``python_version``."""
        return ".".join(self.python_version.split(".")[:2])

    @property
    def repository(self) -> str:
        """The image repository component (Docker wants lower case)."""
        return self.name.lower()

    def location(self, key: str | None = None) -> Location:
        return Location(str(self.source), self.name, key)


def _runtime(entry: PluginEntry, base_dir: Path, where: Location) -> RuntimeSettings:
    res = entry.resources
    gpu = None
    if res.gpu is True:
        gpu = GpuRequest()
    elif isinstance(res.gpu, int) and not isinstance(res.gpu, bool) and res.gpu > 0:
        gpu = GpuRequest(count=res.gpu)
    elif res.gpu is not None and not isinstance(res.gpu, bool | int):
        gpu = GpuRequest(**res.gpu.model_dump())
    limits = ResourceLimits(
        memory_bytes=parse_memory(res.memory) if res.memory is not None else None,
        nano_cpus=int(res.cpus * 1e9) if res.cpus else None, pids=res.pids, gpu=gpu)
    volumes = [_volume(v, base_dir, where.at(f"volumes[{i}]")) for i, v in enumerate(entry.volumes)]
    network = entry.network
    if network is True:
        network = "bridge"
    elif network is False or network == "none":
        network = None
    return RuntimeSettings(resources=limits, env={k: _text(v) for k, v in sorted(entry.env.items())},
                           volumes=volumes, network=network)


def _text(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _volume(spec: VolumeSpec | str, base_dir: Path, where: Location) -> VolumeMount:
    if isinstance(spec, str):
        parts = spec.split(":")
        if len(parts) not in (2, 3) or not all(parts[:2]) or (len(parts) == 3 and parts[2] not in ("ro", "rw")):
            raise where.error(f"{spec!r} is not 'source:target' or 'source:target:ro'.")
        spec = VolumeSpec(source=parts[0], target=parts[1], read_only=len(parts) == 3 and parts[2] == "ro")
        if not spec.target.startswith("/"):
            raise where.error(f"target {spec.target!r} must be an absolute path.")
    source = Path(spec.source).expanduser()
    source = source if source.is_absolute() else (base_dir / source).resolve()
    return VolumeMount(source=str(source), target=spec.target, read_only=spec.read_only)


def _editable(package: PackageRef, module: str, where: Location) -> EditableSource:
    """The folder a development plugin mounts: the package folder holding ``meta.py`` (directly
    under the project or under ``src/``), so that importing ``module`` finds the host's files."""
    if package.kind != PackageKind.LOCAL or package.path is None:
        raise where.at("editable").error(
            f"only a local plugin folder can be editable; package {package.raw!r} is not one.",
            hint="Point 'package' at the plugin's folder (./path), or remove 'editable'.")
    for folder in (package.path / module, package.path / "src" / module):
        if (folder / "meta.py").is_file():
            return EditableSource(source=str(folder.resolve(strict=True)), module=module)
    raise where.at("editable").error(
        f"no package folder '{module}' with a meta.py under {package.path} or its src/ folder, "
        "so there is nothing to mount over the installed code.",
        hint="Set import_name to the package that holds meta.py.")


def _flavor(entry: PluginEntry, env: EnvironmentSpec | None, where: Location) -> Flavor:
    wanted = entry.flavor
    needs_conda = env is not None and env.needs_conda
    if wanted == "python" and needs_conda:
        assert env is not None
        deps = ", ".join(env.conda_dependencies) or f"a {env.lock.kind if env.lock else ''} lock"
        raise where.at("env_file").error(
            f"conda-only dependencies ({deps}) in {env.source} cannot be installed by the python "
            "flavor that 'flavor: python' selects.",
            hint="Remove 'flavor: python' (conda packages build on the rattler flavor), or move "
                 "them to the pip section or to system_packages.")
    if wanted in ("micromamba", "rattler"):
        return Flavor(wanted)
    return Flavor.RATTLER if needs_conda else Flavor.PYTHON


def absolute_channel(channel: str, base_dir: Path) -> str:
    """A channel given as a relative path (``./channel``), made absolute against ``base_dir``;
    names and URLs unchanged."""
    if channel.startswith(("./", "../", "~")):
        return str((base_dir / Path(channel).expanduser()).resolve())
    return channel


def _python_version(entry: PluginEntry, env: EnvironmentSpec | None, where: Location,
                    default: str) -> str:
    from_env = env.python_minor() if env else None
    key = entry.python_version if isinstance(entry.python_version, str) else None
    if key and from_env and ".".join(key.split(".")[:2]) != from_env:
        raise where.at("python_version").error(
            f"'{key}' contradicts python{env.python if env else ''} in {env.source if env else ''}.",
            hint="Give the version in one place.")
    return key or from_env or default


def resolve_entry(entry: PluginEntry, plugins_file: PluginsFile, *,
                  default_python: str | None = None,
                  extra_ca_files: Iterable[Path] = ()) -> PluginSpec:
    """Resolve one entry (reads/fetches its env file and local pyproject.toml)."""
    source = plugins_file.path or Path("plugins.yaml")
    base_dir = plugins_file.base_dir
    where = Location(str(source), entry.name)
    env = None
    if entry.env_file:
        text, shown = read_env_file(entry.env_file, base_dir, where.at("env_file"),
                                    extra_ca_files=extra_ca_files)
        env = parse_environment(text, Location(shown, entry.name, via=str(source)))
        if not re.match(r"^https?://", entry.env_file):  # local channels: next to the env file
            env = replace(env, channels=tuple(absolute_channel(c, Path(shown).parent)
                                              for c in env.channels))
    package = parse_package(entry.package, base_dir, where.at("package"))
    libs = tuple(parse_package(lib, base_dir, where.at(f"interface_libs[{i}]"))
                 for i, lib in enumerate(entry.interface_libs))
    flavor = _flavor(entry, env, where)
    python = _python_version(entry, env, where, default_python or host_python_version())
    system = set(entry.system_packages)
    pip_specs = [p.raw for p in (package, *libs)] + list(env.pip_dependencies if env else ())
    if any(p.kind == PackageKind.VCS for p in (package, *libs)) or any(
            s.startswith("git+") for s in pip_specs):
        system.add("git")  # pip needs git for git+ URLs; the bases do not ship it
    import_name = entry.import_name or package.import_name
    runtime = _runtime(entry, base_dir, where)
    if entry.editable:
        runtime = runtime.model_copy(update={"editable": _editable(package, import_name, where)})
    return PluginSpec(
        name=entry.name, source=source, package=package, interface_libs=libs, environment=env,
        python_version=python, flavor=flavor, base_image=entry.base_image,
        system_packages=tuple(sorted(system)), runtime=runtime,
        build_args=tuple(sorted((k, _text(v)) for k, v in entry.build_args.items())),
        import_name=import_name, env_name=entry.env_name,
    )


def resolve_plugins(plugins_file: PluginsFile, *, only: Iterable[str] | None = None,
                    default_python: str | None = None,
                    extra_ca_files: Iterable[Path] = ()) -> list[PluginSpec]:
    """Resolve the plugins of a file, in file order.

    Args:
        plugins_file: the loaded plugins.yaml.
        only: restrict to these plugins.yaml names (all names are checked first).
        default_python: Python version for plugins that name none (default: the host's).
        extra_ca_files: CA certificates to trust when fetching env_file URLs.

    Raises:
        UnknownPluginError: a name in ``only`` is not in the file.
        SpecError: any input problem, naming file, plugin and key.
    """
    entries = plugins_file.plugins
    if only is not None:
        wanted = list(only)
        known = {e.name: e for e in entries}
        for name in wanted:
            if name not in known:
                raise unknown_plugin(name, plugins_file.names(), str(plugins_file.path))
        entries = [e for e in entries if e.name in set(wanted)]
    return [resolve_entry(e, plugins_file, default_python=default_python,
                          extra_ca_files=extra_ca_files) for e in entries]


def unknown_plugin(name: str, known: Iterable[str], where: str) -> UnknownPluginError:
    """The error for a name nobody knows, listing the names that exist (and near misses)."""
    return naming.unknown_plugin(name, known, where=f"in {where}")


def find_spec(name: str, specs: Iterable[PluginSpec],
              manifest_names: dict[str, str] | None = None, *, where: str = "plugins.yaml") -> PluginSpec:
    """The spec called ``name`` (a plugins.yaml name, or a manifest name mapped to one).

    Args:
        manifest_names: manifest name -> plugins.yaml name, from the installed manifests.
    """
    specs = list(specs)
    by_name = {s.name: s for s in specs}
    if name in by_name:
        return by_name[name]
    mapped = (manifest_names or {}).get(name)
    if mapped in by_name:
        return by_name[mapped]
    raise unknown_plugin(name, [*by_name, *(manifest_names or {})], where)


def load_specs(path: Path, *, only: Iterable[str] | None = None,
               manifest_names: dict[str, str] | None = None,
               extra_ca_files: Iterable[Path] = ()) -> tuple[PluginsFile, list[PluginSpec]]:
    """Load plugins.yaml and resolve its plugins (or only those named).

    Args:
        only: plugins.yaml names, or manifest names mapped through ``manifest_names``.

    Raises:
        SpecError / UnknownPluginError: as ``load_plugins_file`` and ``resolve_plugins``.
    """
    plugins_file = load_plugins_file(path)
    wanted = None
    if only is not None:
        # (metadata name, plugins.yaml name) of each entry: either one selects it.
        by_spec = {spec: meta for meta, spec in (manifest_names or {}).items()}
        pairs = [(by_spec.get(n, ""), n) for n in plugins_file.names()]
        wanted = []
        for name in only:
            found = naming.pick(name, pairs, lambda pair: pair)
            if found is None:
                raise unknown_plugin(name, naming.typable(pairs), str(path))
            wanted.append(found[1])
    return plugins_file, resolve_plugins(plugins_file, only=wanted, extra_ca_files=extra_ca_files)
