"""Run a plugin's layer steps on the engine: each step once, found again by its key.

A step runs ``/bin/sh /cjm-build/run.sh`` as root in a container of the image below it. The
step's files and ``run.sh`` (its script, after the build-only environment: proxies) sit in a
fresh folder under ``<data_dir>/build`` that is bind-mounted read-only, and uv's package cache
is the Docker volume ``docker.package_cache``: neither is ever part of a layer, and the commit
keeps the parent image's settings, so proxy values reach no image and no image history.

Finding a step again: a stack step's image is tagged ``<stack_repository>/py<X.Y>:<key16>`` (other
plugins build on it); any other step's image is untagged and carries its key in the
``io.cjm.step`` label (found with ``docker images --all --filter label=...``).
"""

from __future__ import annotations

import secrets
import shlex
import shutil
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from cjm_docker import labels
from cjm_docker.engine import BindMount, BuildEvent, Engine
from cjm_docker.engine_types import HelperLimits
from cjm_docker.images.layers import BUILD_DIR, CACHE_DIR, LayerStep, PluginLayers

STEP_TIMEOUT_S = 1800.0


def stack_tag(repository: str, python_version: str, step: LayerStep) -> str:
    """``<repository>/py<X.Y>:<key16>``."""
    return f"{repository}/py{python_version}:{step.short_key}"


def cached_step(engine: Engine, step: LayerStep) -> str | None:
    """The id of an image a step with this key committed earlier, if one is present.

    Images above it inherit its label until a later step replaces it; a finished plugin image
    (it has a content-hash label) is never taken for a step.
    """
    for image in engine.find_images(f"{labels.STEP}={step.key}"):
        if labels.SPEC_HASH not in (image.get("Labels") or {}):
            return str(image["Id"])
    return None


class StepRunner:
    """Builds the layers of plugin images.

    Args:
        engine: the Docker engine.
        work_root: where step folders are made (``<data_dir>/build``).
        package_cache: the Docker volume holding uv's cache.
        stack_repository: where stack images are tagged.
        namespace: the plugin images' prefix (labelled on their layers, for gc).
        proxies: build-only environment (never stored).
        limits: each step's container's limits (memory, CPU, processes, log size).
        owner: labels naming the installing process, put on each step's container (for gc).
        on_event: progress.
    """

    def __init__(self, engine: Engine, *, work_root: Path, package_cache: str,
                 stack_repository: str, namespace: str = "", proxies: tuple[tuple[str, str], ...] = (),
                 limits: HelperLimits | None = None, owner: dict[str, str] | None = None,
                 on_event: Callable[[BuildEvent], None] | None = None):
        self.engine = engine
        self.work_root = work_root
        self.package_cache = package_cache
        self.stack_repository = stack_repository
        self.namespace = namespace
        self.proxies = proxies
        self.limits = limits
        self.owner = {**(owner or {})}
        self.on_event = on_event or (lambda event: None)

    def build(self, layers: PluginLayers, runtime_ref: str, *, plugin: str,
              nocache: bool = False) -> str:
        """Make every step's image present; returns the top one's id (or ``runtime_ref``'s).

        Each step's container is removed in the background while the next step runs (deleting
        a large step's files takes seconds); all are gone when this returns.
        """
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cjm-step-rm") as removals:
            pending: list[Future[bool]] = []
            try:
                top = self._build(layers, runtime_ref, plugin, nocache,
                                  lambda cid: pending.append(removals.submit(
                                      self.engine.remove_container, cid, force=True)))
            finally:
                removals.shutdown(wait=True)
            for done in pending:
                done.result()  # a removal that failed says so (the step's own error wins)
            return top

    def _build(self, layers: PluginLayers, runtime_ref: str, plugin: str, nocache: bool,
               remove: Callable[[str], None]) -> str:
        parent = runtime_ref
        if layers.steps:
            self.engine.ensure_volume(self.package_cache, {labels.MANAGED: "true",
                                                           labels.ROLE: "package-cache"})
        for step in layers.steps:
            if step.kind == "stack":
                tag = stack_tag(self.stack_repository, layers.runtime.python_version, step)
                if not nocache and self.engine.image_exists(tag):
                    self.on_event(BuildEvent("step", f"{step.kind}: {step.title} (shared, present)"))
                    parent = tag
                    continue
                image = self._run(step, parent, plugin, remove, {
                    labels.ROLE: "stack", labels.PYTHON: layers.runtime.python_version,
                    labels.NAMESPACE: self.stack_repository})
                self.engine.tag_image(image, tag)
                parent = tag
                continue
            cached = None if nocache else cached_step(self.engine, step)
            if cached is not None:
                self.on_event(BuildEvent("step", f"{step.kind}: {step.title} (cached)"))
                parent = cached
                continue
            parent = self._run(step, parent, plugin, remove, {labels.ROLE: "layer", labels.PLUGIN: plugin,
                                                      labels.NAMESPACE: self.namespace})
        return parent

    def _run(self, step: LayerStep, parent: str, plugin: str, remove: Callable[[str], None],
             extra: dict[str, str]) -> str:
        self.on_event(BuildEvent("step", f"{step.kind}: {step.title}"))
        self.work_root.mkdir(parents=True, exist_ok=True)
        folder = self.work_root / f"{step.kind}-{step.short_key}-{secrets.token_hex(4)}"
        folder.mkdir(mode=0o700)
        try:
            for f in step.files:
                path = folder / f.path
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(f.data)
                path.chmod(f.mode)
            environment = "".join(f"export {k}={shlex.quote(v)} {k.lower()}={shlex.quote(v)}\n"
                                  for k, v in self.proxies)
            (folder / "run.sh").write_text(f"set -eu\n{environment}export HOME=/root\n"
                                           f"{step.script}\n")
            step_labels = {labels.MANAGED: "true", labels.STEP: step.key, **extra}
            return self.engine.commit_step(
                parent, ["/bin/sh", f"{BUILD_DIR}/run.sh"],
                BindMount(str(folder.resolve()), BUILD_DIR, read_only=True),
                (self.package_cache, CACHE_DIR), step_labels, STEP_TIMEOUT_S,
                limits=self.limits, plugin=plugin, step=f"{step.kind} ({step.title})",
                on_output=lambda line: self.on_event(BuildEvent("output", line)),
                helper_labels={**self.owner, labels.PLUGIN: plugin},
                on_status=lambda phase: self.on_event(BuildEvent("status", f"{step.kind}: {phase}")),
                remove=remove)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
