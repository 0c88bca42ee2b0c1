"""A python-flavor plugin image as layers on the shared runtime: pure planning, no Docker.

    runtime   <runtime_repository>/py<X.Y>:<hash>   shared by every plugin (runtime_plan.py)
    stack     <stack_repository>/py<X.Y>:<hash>     large locked wheels, shared by every plugin
                                                    whose lock has the same ones
    system    apt packages                          the plugin's own
    deps      the rest of the lock                  the plugin's own
    code      local folders (plugin, interface libs), built with PEP 517 isolation
    final     USER, entry variables, labels          a commit after introspection (no layer)

Each step runs as root in a container of the image below it, with uv's package cache (a Docker
volume) mounted at ``/cjm-cache`` and the step's files read-only at ``/cjm-build``, and is
committed as one layer (steps.py). Each step's key hashes its parent's key and its own inputs,
so every key, and the plugin's tag, is known before anything is built.
"""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cjm_docker.images.context import TAG_HASH_LENGTH, ContextFile
from cjm_docker.images.lock import Lock, LockedPackage
from cjm_docker.images.render import RenderSettings, one_line_each, template_environment
from cjm_docker.images.runtime_plan import PYTHON, UV, RuntimePlan
from cjm_docker.spec.resolve import PluginSpec
from cjm_docker.spec.sources import PackageKind

LAYER_SCHEME = "cjm-docker/layers/2"   # 2: commits no longer carry their helper's labels
TEMPLATE = "Dockerfile.plugin.j2"
BUILD_DIR = "/cjm-build"     # the step's files (a read-only bind mount; never in a layer)
CACHE_DIR = "/cjm-cache"     # uv's package cache (the docker.package_cache volume)
SOURCE_COPY = "/tmp/cjm-src"  # local folders are built from a writable copy, removed after
MIB = 1024 * 1024


@dataclass(frozen=True)
class LayerStep:
    """One committed layer of a plugin image.

    Attributes:
        kind: ``stack``, ``system``, ``deps`` or ``code``.
        title: what progress shows.
        key: sha256 of the parent step's key and this step's inputs.
        script: the shell script run as root (``set -eu`` is added).
        files: mounted read-only at ``/cjm-build`` (paths relative to it).
    """

    kind: str
    title: str
    key: str
    script: str
    files: tuple[ContextFile, ...] = ()

    @property
    def short_key(self) -> str:
        return self.key[:TAG_HASH_LENGTH]


@dataclass(frozen=True)
class PluginLayers:
    """Every layer of one plugin above the runtime, and what the final stage adds."""

    runtime: RuntimePlan
    runtime_key: str
    steps: tuple[LayerStep, ...]
    lock: Lock
    stack: tuple[LockedPackage, ...]
    python_path: str = PYTHON

    @property
    def content_hash(self) -> str:
        """Names the plugin's image: the last step's key covers every layer below it."""
        last = self.steps[-1].key if self.steps else self.runtime_key
        return hashlib.sha256(f"{LAYER_SCHEME}\0final\0{last}".encode()).hexdigest()

    def step(self, kind: str) -> LayerStep | None:
        return next((s for s in self.steps if s.kind == kind), None)


def _key(parent: str, kind: str, script: str, files: tuple[ContextFile, ...]) -> str:
    digest = hashlib.sha256(f"{LAYER_SCHEME}\0{parent}\0{kind}\0{script}\0".encode())
    for f in sorted(files, key=lambda f: f.path):
        digest.update(b"%s\0%o\0%d\0" % (f.path.encode(), f.mode, len(f.data)))
        digest.update(f.data)
    return digest.hexdigest()


def uv_install(settings: RenderSettings) -> str:
    """The uv command every step installs with (no dependency resolution: the lock is complete)."""
    words = [UV, "pip", "install", "--python", PYTHON, "--no-deps", "--compile-bytecode",
             "--link-mode", "copy", "--cache-dir", CACHE_DIR]
    if settings.pip_index_url:
        words += ["--index-url", settings.pip_index_url]
    if settings.pip_extra_index_url:
        words += ["--extra-index-url", settings.pip_extra_index_url]
    return " ".join(shlex.quote(w) for w in words)


def split_lock(lock: Lock, runtime_names: set[str], threshold_bytes: float
               ) -> tuple[tuple[LockedPackage, ...], tuple[LockedPackage, ...]]:
    """(stack, private): large wheels shared through the stack, the rest the plugin's own.

    Packages the runtime already holds are in neither; local folders go with the code.
    """
    stack: list[LockedPackage] = []
    private: list[LockedPackage] = []
    for package in lock.packages:
        if package.local or package.name in runtime_names:
            continue
        large = package.wheel_bytes is not None and package.wheel_bytes >= threshold_bytes
        (stack if large and "==" in package.requirement else private).append(package)
    return tuple(stack), tuple(private)


def _requirements(packages: tuple[LockedPackage, ...]) -> bytes:
    return "".join(f"{p.requirement}\n" for p in packages).encode()


def plan_layers(spec: PluginSpec, lock: Lock, runtime: RuntimePlan, runtime_key: str,
                settings: RenderSettings, local_trees: Mapping[Path, tuple[ContextFile, ...]],
                *, stack_threshold_mb: float = 4.0) -> PluginLayers:
    """The plugin's layers above the runtime (pure).

    Raises:
        SpecError: a value holds a line break or control character (the last guard: a step's
            script and the rendered Dockerfile take these values).
    """
    one_line_each(spec.name, {
        "name": spec.name, "base image": spec.base_image or "",
        "system packages": list(spec.system_packages), "build args": list(spec.build_args),
        "variables": list(spec.environment.variables if spec.environment else ())})
    runtime_names = {c.split("==")[0] for c in settings.worker_constraints}
    stack, private = split_lock(lock, runtime_names, stack_threshold_mb * MIB)
    install = uv_install(settings)
    steps: list[LayerStep] = []
    parent = runtime_key

    def add(kind: str, title: str, script: str, files: tuple[ContextFile, ...] = ()) -> None:
        nonlocal parent
        key = _key(parent, kind, script, files)
        steps.append(LayerStep(kind, title, key, script, files))
        parent = key

    if stack:
        add("stack", f"shared stack: {', '.join(p.pin for p in stack)}",
            f"{install} -r {BUILD_DIR}/stack.txt",
            (ContextFile("stack.txt", _requirements(stack)),))
    if spec.system_packages:
        packages = " ".join(shlex.quote(p) for p in spec.system_packages)
        add("system", f"system packages: {' '.join(spec.system_packages)}",
            "apt-get update; DEBIAN_FRONTEND=noninteractive apt-get install -y "
            f"--no-install-recommends {packages}; apt-get clean; "
            "rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin")
    build_args = "".join(f"export {k}={shlex.quote(v)}; " for k, v in spec.build_args)
    if private:
        add("deps", f"{len(private)} locked package(s)",
            f"{build_args}{install} -r {BUILD_DIR}/requirements.txt",
            (ContextFile("requirements.txt", _requirements(private)),))
    code_files: list[ContextFile] = []
    folders: list[str] = []
    for i, lib in enumerate(spec.interface_libs):
        if lib.kind == PackageKind.LOCAL and lib.path is not None:
            folder = f"libs/{i:02d}-{lib.path.name}"
            code_files.extend(f.moved(f"{folder}/{f.path}") for f in local_trees[lib.path])
            folders.append(folder)
    package = spec.package
    if package.kind == PackageKind.LOCAL and package.path is not None:
        code_files.extend(f.moved(f"plugin/{f.path}") for f in local_trees[package.path])
        folders.append("plugin")
    if folders:
        # built from a writable copy (setuptools writes into the source tree), with PEP 517
        # build isolation: each project's own build backend, from the cached index
        targets = " ".join(f"{SOURCE_COPY}/{f}" for f in folders)
        add("code", f"plugin code ({len(code_files)} files)",
            f"{build_args}mkdir -p {SOURCE_COPY}/libs; "
            + "".join(f"cp -R {BUILD_DIR}/{f} {SOURCE_COPY}/{f}; " for f in folders)
            + f"{install} {targets}; rm -rf {SOURCE_COPY}",
            tuple(code_files))
    return PluginLayers(runtime, runtime_key, tuple(steps), lock, stack)


def render_dockerfile(spec: PluginSpec, layers: PluginLayers, runtime_tag: str,
                      settings: RenderSettings, package_cache: str) -> str:
    """The plugin's layers written as a BuildKit Dockerfile (what `cjm-ctl render` shows)."""
    return template_environment(settings.templates_dir).get_template(TEMPLATE).render(
        cjm_version=settings.cjm_version, plugin=spec.name, runtime_tag=runtime_tag,
        steps=layers.steps, build_dir=BUILD_DIR, cache_dir=CACHE_DIR, package_cache=package_cache,
        lock=layers.lock.pins())
