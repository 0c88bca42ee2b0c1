"""The atomic install of one plugin: plan, build, introspect, label, tag, write the manifest.

    prepare   the base image id, the runtime image's tag, the plugin's lock and layers, and the
              content hash and tag (prepare.py); micromamba: the Dockerfile and its hash
    skip      the tag exists and the plugin's manifest names it: nothing to do (no docker build)
    build     python flavor: the shared runtime image (`docker build`, once per hash), then each
              layer step (steps.py: run with the package cache mounted, commit; shared stack
              images tagged, other steps found again by key); micromamba: ``docker build``
    describe  run the image once; the plugin's metadata becomes the manifest
    finish    ``FROM <id>`` + USER + entry variables + manifest, lock and hash labels (one
              commit: no layer), left untagged
    commit    tag it, then write the manifest file in one ``os.replace``: the commit point

An interrupted or failed install (an error, Ctrl-C, SIGKILL at any step) leaves the previous
install whole: its manifest, and the image it names by id. Nothing tagged or written before
the commit point outlives a failure; helper containers carry their owner's labels, so
`cjm-ctl gc` removes those a killed process left. (Untagged layers stay as build cache.)
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cjm_docker import labels
from cjm_docker.config import CjmConfig
from cjm_docker.engine import BuildEvent, Engine
from cjm_docker.errors import BaseImageMissingError, CjmDockerError, IntrospectionError
from cjm_docker.images import describe
from cjm_docker.images.bases import MICROMAMBA_ALIAS, PYTHON_REPO, flavor_alias
from cjm_docker.images.build_journal import journaled_build
from cjm_docker.images.conda_sources import conda_sources
from cjm_docker.images.context import (
    LARGE_CONTEXT_BYTES,
    TAG_HASH_LENGTH,
    ContextFile,
    collect_tree,
    content_hash,
    context_tar,
)
from cjm_docker.images.inventory import ImageStatus, Inventory
from cjm_docker.images.lock import Resolver
from cjm_docker.images.prepare import PreparedBuild, prepare_layered
from cjm_docker.images.render import RenderSettings, render_plan
from cjm_docker.images.runtime import render_settings
from cjm_docker.images.state import record_data_dir
from cjm_docker.images.steps import StepRunner
from cjm_docker.manifest import Manifest, write_manifest
from cjm_docker.name_rule import path_for
from cjm_docker.owner import current_owner, new_session_id
from cjm_docker.spec.environment import Flavor
from cjm_docker.spec.resolve import PluginSpec
from cjm_docker.spec.sources import PackageKind


class BuildReporter(Protocol):
    """Where build progress goes (the CLI shows it with rich, or as plain lines)."""

    def start(self, plugin: str, action: str) -> None: ...
    def event(self, plugin: str, event: BuildEvent) -> None: ...
    def finish(self, plugin: str, ok: bool, text: str) -> None: ...


class SilentReporter:
    """Reports nothing."""

    def start(self, plugin: str, action: str) -> None:
        pass

    def event(self, plugin: str, event: BuildEvent) -> None:
        pass

    def finish(self, plugin: str, ok: bool, text: str) -> None:
        pass


@dataclass(frozen=True)
class InstallResult:
    """What installing one plugin did."""

    spec_name: str
    manifest: Manifest
    tag: str
    built: bool          # False: it was already current
    seconds: float


def local_trees(spec: PluginSpec, conda_channels: Iterable[tuple[str, str]] = ()
                ) -> dict[Path, tuple[ContextFile, ...]]:
    """The files of every local folder a spec names (read from disk): local packages, and
    the local conda channels its env spec or cjm.yaml's ``docker.conda_channels`` names.

    Raises:
        SpecError: a local conda channel that is missing or not indexed.
    """
    refs = [spec.package, *spec.interface_libs]
    trees = {ref.path: collect_tree(ref.path) for ref in refs
             if ref.kind == PackageKind.LOCAL and ref.path is not None}
    if spec.flavor.conda:
        for folder, _ in conda_sources(spec.environment, dict(conda_channels)).local:
            trees[folder] = _channel_tree(folder, spec)
    return trees


def _channel_tree(folder: Path, spec: PluginSpec) -> tuple[ContextFile, ...]:
    if not (folder / "noarch" / "repodata.json").is_file():
        what = "does not exist" if not folder.is_dir() else "is not an indexed conda channel " \
            "(it has no noarch/repodata.json)"
        raise spec.location("env_file").error(
            f"the local conda channel {folder} {what}.",
            hint=f"Index it with `rattler-index fs {folder}` (or `conda index {folder}`), or fix "
                 "the channel in the env spec or in cjm.yaml's docker.conda_channels.")
    return collect_tree(folder)


class ImageBuilder:
    """Installs plugins as images.

    Args:
        config: the resolved configuration.
        engine: the Docker engine (made on first use).
        reporter: where progress goes.
        settings: rendering settings (read from this host on first use).
        plugin_names: every name of the current plugins.yaml (to tell a manifest-name clash
            from a renamed entry).
        replace: let a plugin from another plugins.yaml (or another entry) take the manifest
            name of an installed plugin (``--replace``); refused otherwise.
    """

    def __init__(self, config: CjmConfig, *, engine: Engine | None = None,
                 reporter: BuildReporter | None = None, settings: RenderSettings | None = None,
                 plugin_names: Iterable[str] = (), replace: bool = False):
        self.config = config
        self._engine = engine
        self.reporter: BuildReporter = reporter or SilentReporter()
        self._settings = settings
        self.plugin_names = set(plugin_names)
        self.replace = replace
        self.clock: Callable[[], float] = time.perf_counter
        self.session = new_session_id()

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = Engine()
        return self._engine

    @property
    def settings(self) -> RenderSettings:
        if self._settings is None:
            self._settings = render_settings(self.config)
        return self._settings

    @property
    def inventory(self) -> Inventory:
        return Inventory(self.config, self.engine)

    # -- planning -----------------------------------------------------------------------------

    @property
    def resolver(self) -> Resolver:
        return Resolver(self.config.data_dir / "locks")

    def plan(self, spec: PluginSpec) -> PreparedBuild:
        """The prepared build (`cjm-ctl render` prints its ``dockerfile``)."""
        return self.prepare(spec)

    def prepare(self, spec: PluginSpec, *, upgrade: bool = False) -> PreparedBuild:
        """Plan, and name the result by its content hash.

        Args:
            upgrade: resolve the plugin's environment again, to the newest versions allowed.

        Raises:
            BaseImageMissingError: the base image is not present.
            BuildError: the plugin's requirements cannot be resolved.
        """
        base_ref = spec.base_image or flavor_alias(spec.flavor, spec.python_version)
        base = self.engine.image_inspect(base_ref)
        if base is None:
            raise _missing_base(spec, base_ref)
        docker = self.config.docker
        if spec.flavor == Flavor.PYTHON:
            return prepare_layered(
                spec, settings=self.settings, base_image=base_ref, base_image_id=base["Id"],
                resolver=self.resolver, image_prefix=docker.image_prefix,
                stack_repository=docker.stack_repository, package_cache=docker.package_cache,
                stack_threshold_mb=docker.stack_threshold_mb, local_trees=local_trees(spec),
                upgrade=upgrade)
        plan = render_plan(spec, self.settings, local_trees(spec, self.settings.conda_channels))
        digest = content_hash(plan.context_files(), base_image_id=base["Id"],
                              build_args=plan.build_args)
        tag = f"{docker.image_prefix}/{spec.repository}:{digest[:TAG_HASH_LENGTH]}"
        return PreparedBuild(spec=spec, tag=tag, content_hash=digest, base_image=base_ref,
                             base_image_id=base["Id"], python_path=plan.python_path,
                             dockerfile=plan.dockerfile, plan=plan)

    def current(self, prepared: PreparedBuild) -> Manifest | None:
        """The installed manifest when it names exactly this build and its tag holds it (the
        judgement `cjm-ctl list` shows: ``inventory.image_state``).

        Runtime settings (env, volumes, editable, ...) are not part of the image hash, but
        they live in the manifest: when plugins.yaml changed them, the manifest is made again
        (every layer comes from the cache).
        """
        return self._judge(prepared)[0]

    def _judge(self, prepared: PreparedBuild) -> tuple[Manifest | None, str]:
        """(the current manifest or None, why a build is needed) for this build."""
        manifest = self.inventory.manifest_for_spec(prepared.spec.name)
        if manifest is None:
            return None, "not installed in this data dir yet"
        state = self.inventory.state(manifest, prepared.tag, prepared.spec.runtime)
        return (manifest if state.status is ImageStatus.PRESENT else None), state.reason

    # -- installing ---------------------------------------------------------------------------

    def install(self, spec: PluginSpec, *, force: bool = False, nocache: bool = False,
                upgrade: bool = False) -> InstallResult:
        """Make the plugin's image and manifest current (a no-op when they are).

        Args:
            force: rebuild even when current (cached layers are still reused).
            nocache: rebuild every layer, the shared runtime and stack included (implies force).
            upgrade: resolve the environment again to the newest allowed versions (a rebuild
                follows only when that changes the lock).
        """
        started = self.clock()
        prepared = self.prepare(spec, upgrade=upgrade)
        why = "--force" if force or nocache else ""
        if not why:
            manifest, why = self._judge(prepared)
            if manifest is not None:
                return InstallResult(spec.name, manifest, prepared.tag, False, self.clock() - started)
        self.reporter.start(spec.name, f"building {prepared.tag}: {why}")
        warning = large_context_warning(spec, prepared.build_files)
        if warning:
            self.reporter.event(spec.name, BuildEvent("warning", warning))
        try:
            manifest = self._build(prepared, nocache=nocache)
        except BaseException as exc:
            text = exc.message if isinstance(exc, CjmDockerError) else type(exc).__name__
            self.reporter.finish(spec.name, False, text.splitlines()[0] if text else "failed")
            raise
        seconds = self.clock() - started
        self.reporter.finish(spec.name, True, f"{prepared.tag} in {seconds:.1f} s")
        return InstallResult(spec.name, manifest, prepared.tag, True, seconds)

    def _image(self, prepared: PreparedBuild, *, nocache: bool) -> str:
        """Build what the prepared plugin needs; the id of the image to introspect."""
        spec, engine = prepared.spec, self.engine
        on_event = lambda e: self.reporter.event(spec.name, e)  # noqa: E731
        limits = describe.helper_limits(spec, self.config)
        memory = limits.memory_bytes   # all the classic builder can bound
        if prepared.plan is not None:
            plan = prepared.plan
            return journaled_build(engine, _stream(plan.context_files()),
                                   buildargs=plan.all_build_args(), on_event=on_event,
                                   nocache=nocache, plugin=spec.name, memory_bytes=memory)
        runtime, layers, runtime_tag = prepared.runtime, prepared.layers, prepared.runtime_tag
        assert runtime is not None and layers is not None and runtime_tag is not None
        if nocache or not engine.image_exists(runtime_tag):
            on_event(BuildEvent("step", f"worker runtime {runtime_tag} (shared by every plugin)"))
            runtime_id = journaled_build(engine, _stream(runtime.context_files()),
                                         buildargs=runtime.all_build_args(), on_event=on_event,
                                         nocache=nocache, plugin=spec.name, memory_bytes=memory)
            engine.tag_image(runtime_id, runtime_tag)
        docker = self.config.docker
        runner = StepRunner(engine, work_root=self.config.data_dir / "build",
                            package_cache=docker.package_cache,
                            stack_repository=docker.stack_repository,
                            namespace=docker.image_prefix,
                            proxies=self.settings.proxies, limits=limits,
                            owner=self._owner(), on_event=on_event)
        return runner.build(layers, runtime_tag, plugin=spec.name, nocache=nocache)

    def _owner(self) -> dict[str, str]:
        """Labels naming this install (process and session): every helper container carries
        them, so `cjm-ctl gc` can tell one that a killed install left behind."""
        return {**current_owner().labels(), labels.SESSION: self.session}

    def _build(self, prepared: PreparedBuild, *, nocache: bool) -> Manifest:
        """Build, describe and commit one image; the manifest write is the commit point.

        Until the manifest is replaced (one ``os.replace``) the previous install stands
        whole: the new image is untagged while it is made, and if the tag already named an
        image (a forced rebuild) it is moved back when anything fails. A process killed between
        the tag move and the manifest write leaves the tag on an image of the very same inputs
        (the tag is their hash), which `list` and `install-all` both judge current
        (``inventory.image_state``).
        """
        spec, engine = prepared.spec, self.engine
        previous = self.inventory.manifest_for_spec(spec.name)
        if previous is not None and not _same_source(previous, spec):
            previous = None   # another plugins.yaml's entry of that name: not ours to retire
        owner = self._owner()
        image_id = self._image(prepared, nocache=nocache)
        self.reporter.event(spec.name, BuildEvent("status", "introspecting the plugin"))
        meta = describe.introspect(engine, image_id, spec, prepared.python_path, self.config,
                                   owner)
        manifest = describe.make_manifest(meta, spec, prepared, tag=prepared.tag).model_copy(
            update={"image_hash": prepared.content_hash})
        self._check_name_clash(manifest, spec)
        final_id = describe.finish_image(engine, image_id, manifest, spec, owner=owner,
                                         content_hash=prepared.content_hash,
                                         lock=prepared.lock_pins,
                                         namespace=self.config.docker.image_prefix)
        manifest = manifest.model_copy(update={"image_id": final_id})
        was = engine.image_inspect(prepared.tag)
        moved = False
        try:
            moved = True  # set first: an interrupt inside the call may still move the tag
            engine.tag_image(final_id, prepared.tag)
            write_manifest(manifest, self.config.manifests_dir)
            record_data_dir(self.config.data_dir)
        except BaseException:
            if moved:
                self._restore_tag(prepared.tag, was["Id"] if was else None, final_id)
            raise
        self._retire(previous, manifest)
        return manifest

    def _restore_tag(self, tag: str, was: str | None, made: str) -> None:
        """Point ``tag`` back where it pointed before this attempt (or nowhere)."""
        if was is not None and was != made:
            self.engine.tag_image(was, tag)
        elif was is None:
            self.engine.remove_image(tag)

    def _check_name_clash(self, manifest: Manifest, spec: PluginSpec) -> None:
        """Refuse a plugin that would take over an installed plugin's manifest name.

        Manifests are keyed by the name a plugin gives itself, so a plugin from elsewhere that
        calls itself ``cjm-example-echo`` would be what ``load_plugin("cjm-example-echo")`` runs.
        The same plugins.yaml entry may replace its own manifest; anything else needs
        ``replace`` (``--replace``; ``--force`` only rebuilds).
        """
        other = self.inventory.manifest_named(manifest.name)
        if other is None or _same_source(other, spec):
            return
        here = str(Path(spec.source).resolve())
        if other.spec_file in ("", here) and other.spec_name in self.plugin_names:
            raise IntrospectionError(
                f"Plugins '{other.spec_name}' and '{spec.name}' both describe themselves as "
                f"'{manifest.name}'; manifests are keyed by that name, so one would replace "
                "the other.", plugin=spec.name,
                hint="Install only one of them, or give one a different meta name.")
        if self.replace:
            return
        origin = f"entry '{other.spec_name}' of {other.spec_file or 'another plugins.yaml'}"
        raise IntrospectionError(
            f"Plugin '{spec.name}' of {spec.source} describes itself as '{manifest.name}', "
            f"the name of a plugin already installed from {origin}; installing it would "
            f"make every load_plugin('{manifest.name}') run this one instead.", plugin=spec.name,
            hint="Run again with --replace if you mean to replace it; otherwise give this "
                 f"plugin another meta name, or `cjm-ctl remove {manifest.name}` first.")

    def _retire(self, previous: Manifest | None, current: Manifest) -> None:
        """Drop the plugin's previous manifest file when its name changed.

        The previous image tag stays: tags are content hashes, so another data dir on the same
        engine may name the very same tag in its own manifest (`cjm-ctl remove` and
        `docker image prune` are the explicit ways to free the space).
        """
        if previous is not None and previous.name != current.name:
            path_for(self.config.manifests_dir, previous.name, ".json").unlink(missing_ok=True)


def _same_source(manifest: Manifest, spec: PluginSpec) -> bool:
    """Whether ``manifest`` was installed from ``spec``'s own plugins.yaml entry (a manifest
    older than ``spec_file`` is judged by its entry name)."""
    return manifest.spec_name == spec.name and \
        manifest.spec_file in ("", str(Path(spec.source).resolve()))


def large_context_warning(spec: PluginSpec, files: tuple[ContextFile, ...]) -> str:
    """A warning when the build context is large (usually weights or data), naming its
    largest folders and the .dockerignore that would keep them out; else ""."""
    total = sum(len(f.data) for f in files)
    if total <= LARGE_CONTEXT_BYTES:
        return ""
    by_folder: dict[str, int] = {}
    for f in files:
        folder = "/".join(f.path.split("/")[:-1]) or "."
        by_folder[folder] = by_folder.get(folder, 0) + len(f.data)
    largest = sorted(by_folder.items(), key=lambda item: -item[1])[:3]
    listing = ", ".join(f"{name} {size >> 20} MiB" for name, size in largest)
    folders = [str(ref.path) for ref in (spec.package, *spec.interface_libs)
               if ref.kind == PackageKind.LOCAL and ref.path is not None]
    where = " or ".join(f"{p}/.dockerignore" for p in folders) or "a .dockerignore"
    return (f"the build context is {total >> 20} MiB (largest: {listing}); it is baked into "
            f"the image. Keep weights and data out with {where}, and put models in the "
            "models folder (CJM_MODELS_DIR) instead.")


def _stream(files: Iterable[ContextFile]) -> io.BytesIO:
    return io.BytesIO(context_tar(files))


def _missing_base(spec: PluginSpec, base_image: str) -> BaseImageMissingError:
    if base_image.startswith(PYTHON_REPO) or base_image == MICROMAMBA_ALIAS:
        hint = "Run `cjm-ctl setup-runtime` first"
        hint += f" (with --plugins {spec.source})." if spec.base_image is None else "."
    else:
        hint = f"Pull or `docker load` {base_image}, or change base_image in {spec.source}."
    return BaseImageMissingError(
        f"The base image {base_image} of plugin '{spec.name}' ({spec.flavor.value} "
        "flavor) is not present.", plugin=spec.name, hint=hint)
