"""Rendering: a resolved plugin spec and this host's settings in, a ``BuildPlan`` out.

Pure: no Docker, no network, no clock. Jinja runs with ``StrictUndefined`` (a misspelt variable
fails instead of rendering empty), and every mapping is sorted, so the same inputs give the same
bytes, the same hash, and Docker cache hits.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from cjm_docker import labels
from cjm_docker.errors import SpecError
from cjm_docker.images.bases import flavor_alias
from cjm_docker.images.conda_sources import CONTEXT_DIR, conda_sources
from cjm_docker.images.context import ContextFile, DockerfileContext
from cjm_docker.spec.environment import EnvironmentSpec, Flavor
from cjm_docker.spec.resolve import PluginSpec
from cjm_docker.spec.sources import PackageKind, PackageRef

USER_ID = 10001
CERT_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
CERT_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "PIP_CERT")
CONDA_CERT_VARIABLES = ("MAMBA_SSL_VERIFY", "CONDA_SSL_VERIFY")
HOME = "/home/cjm"
PYTHON_PATHS = {Flavor.PYTHON: "/opt/venv/bin/python", Flavor.RATTLER: "/opt/venv/bin/python",
                Flavor.MICROMAMBA: "/opt/conda/envs/plugin/bin/python"}
# The python flavor is layered on the shared runtime image (runtime_plan.py, layers.py); the
# conda flavors are still one Dockerfile each (the rattler flavor is the former python template
# plus its conda step).
TEMPLATES = {Flavor.RATTLER: "Dockerfile.python.j2", Flavor.MICROMAMBA: "Dockerfile.micromamba.j2"}
CONDA_PREFIXES = {Flavor.RATTLER: "/opt/venv", Flavor.MICROMAMBA: "/opt/conda/envs/plugin"}
# The installer of the rattler flavor's conda step, pinned: it runs only during builds, in a
# venv of its own that the step removes again.
RATTLER_REQUIREMENT = "py-rattler==0.28.0"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
PIP_FLAGS = "--no-cache-dir --disable-pip-version-check --no-input --no-color --progress-bar off"


@dataclass(frozen=True)
class RenderSettings:
    """What rendering needs from the host (read once by ``runtime.render_settings``).

    Attributes:
        cjm_version: the cjm_docker version baked in.
        worker_requirements: the worker's dependencies, pinned (``fastapi==0.110.0``).
        runtime_files: the cjm_docker files baked in (context paths under ``cjm/runtime/``).
        worker_constraints: every package the worker's dependencies pull in, pinned to the
            host's installed versions (the runtime's venv is exactly the host's).
        uv_version: the uv the runtime image installs (the host's, so both resolve alike).
        runtime_repository: where runtime images are tagged (``<repo>/py3.11:<hash>``).
        ca_certificates: extra CA certificates (context paths under ``cjm/certs/``).
        pip_index_url: passed as a build arg when set.
        pip_extra_index_url: passed as a build arg when set.
        proxies: proxy variables, passed as Docker's predefined build args (never stored).
        templates_dir: where the Dockerfile templates are.
        conda_channels: channel name -> mirror URL or local channel folder (cjm.yaml).
        conda_installer: the rattler flavor's install script (``images/rattler/install.py``).
    """

    cjm_version: str
    worker_requirements: tuple[str, ...]
    runtime_files: tuple[ContextFile, ...]
    ca_certificates: tuple[ContextFile, ...] = ()
    worker_constraints: tuple[str, ...] = ()
    uv_version: str = "0.13.9"
    runtime_repository: str = "cjm-runtime"
    pip_index_url: str | None = None
    pip_extra_index_url: str | None = None
    proxies: tuple[tuple[str, str], ...] = ()
    templates_dir: Path = field(default_factory=lambda: Path("templates"))
    conda_channels: tuple[tuple[str, str], ...] = ()
    conda_installer: bytes = b""

    def index_build_args(self) -> list[tuple[str, str]]:
        """The package index settings, as the build args pip reads."""
        return [(name, value) for name, value in (("PIP_INDEX_URL", self.pip_index_url),
                                                  ("PIP_EXTRA_INDEX_URL", self.pip_extra_index_url))
                if value]


@dataclass(frozen=True)
class BuildPlan(DockerfileContext):
    """Everything ``docker build`` gets for one plugin (the context, and what it is for).

    Attributes:
        plugin: the plugins.yaml name.
        flavor: python or micromamba.
        python_path: the interpreter the worker runs under.
        labels: the labels the Dockerfile sets.
    """

    plugin: str
    flavor: Flavor
    python_path: str
    labels: tuple[tuple[str, str], ...]


def _dq(value: str) -> str:
    """A double-quoted Dockerfile word (ENV/LABEL): escapes backslash, quote and ``$``."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


def one_line_each(plugin: str, context: dict[str, Any]) -> dict[str, Any]:
    """The template's values, each refused if it holds a line break or control character.

    A Dockerfile instruction ends at a line break whatever the quoting, so such a value would
    add instructions of its own. The spec models refuse these already (whole-string matches);
    this is the last check before any value reaches a template.

    Raises:
        SpecError: naming the plugin, the value and where it came from.
    """
    for name, value in context.items():
        items = value if isinstance(value, (list, tuple)) else [value]
        for item in items:
            for text in item if isinstance(item, tuple) else (item,):
                if isinstance(text, str) and _CONTROL.search(text):
                    raise SpecError(
                        f"Plugin '{plugin}': the {name.replace('_', ' ')} value {text[:80]!r} "
                        "contains a line break or control character, which would add "
                        "instructions to its Dockerfile; nothing was built.", plugin=plugin,
                        hint="Fix the value in plugins.yaml or the environment spec.")
    return context


def template_environment(templates_dir: Path) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir)),
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True, autoescape=False)
    env.filters["sq"] = shlex.quote
    env.filters["dq"] = _dq
    return env


def _pip_spec(ref: PackageRef, local_path: str | None) -> str:
    if ref.kind == PackageKind.LOCAL:
        assert local_path is not None
        return local_path
    spec = ref.raw.strip()
    for prefix in ("-e ", "--editable "):
        spec = spec.removeprefix(prefix).strip()
    return spec


def _conda_step(spec: PluginSpec, settings: RenderSettings, python: str,
                local_trees: Mapping[Path, tuple[ContextFile, ...]]) -> tuple[str, list[ContextFile]]:
    """The conda step's context files (under ``cjm/conda/``) and the file micromamba reads.

    micromamba reads an environment.yml, or an ``@EXPLICIT`` list for a lock; the rattler
    flavor's installer reads request.json. Local channels travel along (``conda_sources``).
    """
    sources = conda_sources(spec.environment, dict(settings.conda_channels))
    files = [f.moved(f"{context}/{f.path}") for folder, context in sources.local
             for f in local_trees[folder]]
    if spec.flavor == Flavor.MICROMAMBA:
        if sources.locked:
            name = "explicit.txt"
            text = "@EXPLICIT\n" + "".join(f"{p.url}#{p.md5}\n" if p.md5 else f"{p.url}\n"
                                            for p in sources.locked)
        else:
            name = "environment.yml"
            env = spec.environment or EnvironmentSpec(source="(none)")
            text = env.conda_file(spec.python_version, sources.channels)
        files.append(ContextFile(f"{CONTEXT_DIR}/{name}", text.encode()))
        return name, files
    request = {"prefix": CONDA_PREFIXES[Flavor.RATTLER], "python": python,
               "channels": list(sources.channels), "specs": list(sources.specs),
               "locked": [{"url": p.url, "sha256": p.sha256, "md5": p.md5} for p in sources.locked]}
    files.append(ContextFile(f"{CONTEXT_DIR}/request.json",
                             json.dumps(request, indent=1, sort_keys=True).encode()))
    files.append(ContextFile(f"{CONTEXT_DIR}/install.py", settings.conda_installer))
    return "request.json", files


def render_plan(spec: PluginSpec, settings: RenderSettings,
                local_trees: Mapping[Path, tuple[ContextFile, ...]]) -> BuildPlan:
    """Render the Dockerfile and assemble the context for one micromamba-flavor plugin.

    Args:
        spec: the resolved plugin.
        settings: this host's settings.
        local_trees: the files of each local folder the spec names (package and interface
            libs), relative to that folder; ``context.collect_tree`` reads them.

    Raises:
        jinja2.UndefinedError: a template uses a variable rendering does not provide (a bug).
    """
    files: list[ContextFile] = list(settings.runtime_files) + list(settings.ca_certificates)
    base = spec.base_image or flavor_alias(spec.flavor, spec.python_version)
    python = PYTHON_PATHS[spec.flavor]

    env_requirements: list[str] = []
    local_libs = False
    for i, lib in enumerate(spec.interface_libs):
        where = None
        if lib.kind == PackageKind.LOCAL and lib.path is not None:
            folder = f"cjm/libs/{i:02d}-{lib.path.name}"
            files.extend(f.moved(f"{folder}/{f.path}") for f in local_trees[lib.path])
            where, local_libs = f"/opt/{folder}", True
        env_requirements.append(_pip_spec(lib, where))
    if spec.environment is not None:
        env_requirements.extend(spec.environment.pip_dependencies)

    package = spec.package
    local = package.kind == PackageKind.LOCAL and package.path is not None
    install_flags = ""
    if local:
        assert package.path is not None and package.project is not None
        files.extend(f.moved(f"cjm/plugin/{f.path}") for f in local_trees[package.path])
        # Static dependencies get the cached environment layer; the build backend comes from
        # the package index through pip's PEP 517 build isolation, whatever the packaging style.
        if package.project.dependencies is not None:
            env_requirements.extend(package.project.dependencies)
            install_flags = "--no-deps"

    system_packages = list(spec.system_packages)
    if spec.flavor == Flavor.MICROMAMBA and settings.ca_certificates:
        system_packages = sorted({*system_packages, "ca-certificates"})
    conda_file = ""
    if spec.flavor.conda:
        conda_file, conda_files = _conda_step(spec, settings, python, local_trees)
        files.extend(conda_files)

    build_args = sorted([*spec.build_args, *settings.index_build_args()])

    image_labels = sorted({
        labels.MANAGED: "true", labels.PLUGIN: spec.name, labels.VERSION: settings.cjm_version,
        labels.FLAVOR: spec.flavor.value, labels.ROLE: "plugin"}.items())
    env_vars = {
        "PATH": f"{python.rsplit('/', 1)[0]}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1", "PIP_NO_CACHE_DIR": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        **dict(spec.environment.variables if spec.environment else ()),
    }
    if spec.flavor.conda:  # where plugins find the conda packages' files (share/, bin/, ...)
        env_vars["CONDA_PREFIX"] = CONDA_PREFIXES[spec.flavor]
    if settings.ca_certificates:  # the trust store now holds the extra CAs: point every tool at it
        names = CERT_VARIABLES + (CONDA_CERT_VARIABLES if spec.flavor == Flavor.MICROMAMBA else ())
        env_vars.update(dict.fromkeys(names, CERT_BUNDLE))

    dockerfile = template_environment(settings.templates_dir).get_template(TEMPLATES[spec.flavor]).render(
        **one_line_each(spec.name, dict(
        cjm_version=settings.cjm_version,
        plugin=spec.name,
        flavor=spec.flavor.value,
        base_image=base,
        arg_names=[k for k, _ in build_args],
        certificates=bool(settings.ca_certificates),
        system_packages=system_packages,
        user_id=USER_ID,
        python=python,
        pip=f"{python} -m pip install {PIP_FLAGS}",
        worker_requirements=list(settings.worker_requirements),
        env_requirements=env_requirements,
        local_libs=local_libs,
        package_local=local,
        package_spec=_pip_spec(package, "/opt/cjm/plugin"),
        install_flags=install_flags,
        labels=image_labels,
        env_vars=sorted(env_vars.items()),
        switch_to_root=spec.base_image is not None,
        conda=spec.flavor == Flavor.RATTLER,
        conda_file=conda_file,
        rattler_pip=f"/opt/cjm/rattler/bin/python -m pip install {PIP_FLAGS}",
        rattler_requirement=RATTLER_REQUIREMENT,
    )))
    return BuildPlan(
        plugin=spec.name, flavor=spec.flavor, base_image=base, dockerfile=dockerfile,
        files=tuple(sorted(files, key=lambda f: f.path)), build_args=tuple(build_args),
        transient_args=settings.proxies, python_path=python, labels=tuple(image_labels))
