"""Preparing a build: what would be built, under which tag, before anything is built.

For the python flavor: the runtime image's plan and tag, the plugin's lock (stored, or resolved
by uv on the host when its inputs changed), its layers, and the tag that hashes them all. For the
micromamba flavor: the one Dockerfile and its content hash (render.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cjm_docker.images.context import TAG_HASH_LENGTH, ContextFile
from cjm_docker.images.layers import PluginLayers, plan_layers, render_dockerfile
from cjm_docker.images.lock import LockInputs, Resolver, target_platform
from cjm_docker.images.render import BuildPlan, RenderSettings
from cjm_docker.images.runtime_plan import RuntimePlan, render_runtime
from cjm_docker.images.steps import stack_tag
from cjm_docker.spec.resolve import PluginSpec
from cjm_docker.spec.sources import PackageKind, PackageRef


@dataclass(frozen=True)
class PreparedBuild:
    """A plugin's build with its identity.

    Attributes:
        spec: the plugin.
        tag: ``<image_prefix>/<name>:<hash16>``.
        content_hash: the full hash.
        base_image: the base reference; ``base_image_id`` its id.
        python_path: the interpreter the worker runs under.
        dockerfile: what `cjm-ctl render` shows.
        plan: the micromamba flavor's Dockerfile build (None for the python flavor).
        runtime: the python flavor's runtime image plan; ``runtime_tag`` its tag.
        layers: the python flavor's layers above the runtime.
        stack_tag: the shared stack image, when the plugin has one.
    """

    spec: PluginSpec
    tag: str
    content_hash: str
    base_image: str
    base_image_id: str
    python_path: str
    dockerfile: str
    plan: BuildPlan | None = None
    runtime: RuntimePlan | None = None
    runtime_tag: str | None = None
    layers: PluginLayers | None = None
    stack_tag: str | None = None

    @property
    def lock_pins(self) -> tuple[str, ...]:
        """Every locked package as ``name==version`` (empty for the micromamba flavor)."""
        return self.layers.lock.pins() if self.layers is not None else ()

    @property
    def build_files(self) -> tuple[ContextFile, ...]:
        """Every file the plugin's own build sends (the shared runtime's left out)."""
        if self.plan is not None:
            return self.plan.context_files()
        return tuple(f for step in (self.layers.steps if self.layers else ()) for f in step.files)

    @property
    def shared_images(self) -> tuple[str, ...]:
        """The tagged images this one builds on (kept by `cjm-ctl gc --images`)."""
        return tuple(t for t in (self.runtime_tag, self.stack_tag) if t)


def _requirement(ref: PackageRef) -> tuple[list[str], Path | None]:
    """What a plugins.yaml pip spec adds to the requirements (and the folder it names)."""
    if ref.kind == PackageKind.LOCAL and ref.path is not None:
        if ref.project is not None and ref.project.dependencies is not None:
            return list(ref.project.dependencies), None  # known statically: no metadata build
        return [str(ref.path)], ref.path
    spec = ref.raw.strip()
    for prefix in ("-e ", "--editable "):
        spec = spec.removeprefix(prefix).strip()
    return [spec], None


def lock_inputs(spec: PluginSpec, settings: RenderSettings) -> LockInputs:
    """The plugin's resolution inputs: the worker's pins first, then everything it installs."""
    requirements = list(settings.worker_requirements)
    folders: list[Path] = []
    refs = [*spec.interface_libs, spec.package]
    for ref in refs[:-1]:
        lines, folder = _requirement(ref)
        requirements += lines
        folders += [folder] if folder else []
    if spec.environment is not None:
        requirements += spec.environment.pip_dependencies
    lines, folder = _requirement(spec.package)
    requirements += lines
    folders += [folder] if folder else []
    return LockInputs(
        requirements=tuple(requirements), constraints=settings.worker_constraints,
        python_version=spec.python_minor,
        platform=target_platform(spec.python_minor, spec.base_image is not None),
        index_url=settings.pip_index_url, extra_index_url=settings.pip_extra_index_url,
        local_dirs=tuple(folders))


def prepare_layered(spec: PluginSpec, *, settings: RenderSettings, base_image: str,
                    base_image_id: str, resolver: Resolver, image_prefix: str,
                    stack_repository: str, package_cache: str, stack_threshold_mb: float,
                    local_trees: Mapping[Path, tuple[ContextFile, ...]],
                    upgrade: bool = False) -> PreparedBuild:
    """Prepare a python-flavor plugin (resolves its lock only when its inputs changed)."""
    runtime = render_runtime(settings, spec.python_version, base_image,
                             custom_base=spec.base_image is not None)
    runtime_hash = runtime.content_hash(base_image_id)
    runtime_tag = runtime.tag(settings.runtime_repository, base_image_id)
    lock = resolver.lock(spec.name, lock_inputs(spec, settings), upgrade=upgrade)
    layers = plan_layers(spec, lock, runtime, runtime_hash, settings, local_trees,
                         stack_threshold_mb=stack_threshold_mb)
    stack = layers.step("stack")
    # the final stage's own inputs: the environment spec's variables become image settings
    variables = sorted(spec.environment.variables) if spec.environment else []
    digest = hashlib.sha256(f"{layers.content_hash}\0{variables!r}".encode()).hexdigest()
    return PreparedBuild(
        spec=spec, tag=f"{image_prefix}/{spec.repository}:{digest[:TAG_HASH_LENGTH]}",
        content_hash=digest, base_image=base_image, base_image_id=base_image_id,
        python_path=layers.python_path,
        dockerfile=render_dockerfile(spec, layers, runtime_tag, settings, package_cache),
        runtime=runtime, runtime_tag=runtime_tag, layers=layers,
        stack_tag=stack_tag(stack_repository, runtime.python_version, stack) if stack else None)
