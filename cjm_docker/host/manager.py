"""``PluginManager``: discovery, one container per loaded plugin, configs, execution.

The method names and meanings are cjm-plugin-system 0.0.x's, without its defects: loads are
idempotent and leak nothing when a step fails, partial configs are merged with the schema's
defaults and validated, ``initialize`` always runs, eviction never touches a busy plugin, and a
crashed container is replaced on the next call.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from cjm_docker import naming
from cjm_docker.config import CjmConfig, get_config
from cjm_docker.engine import Engine
from cjm_docker.errors import (
    CjmDockerError,
    PluginNotLoadedError,
    UnknownPluginError,
    WorkerCrashedError,
    WorkerTimeoutError,
)
from cjm_docker.host import configs
from cjm_docker.host.attachment import Attachment, read_deployment
from cjm_docker.host.discovery import default_search_paths, discover
from cjm_docker.host.proxy import RemotePluginProxy
from cjm_docker.host.resources import ResourceBroker
from cjm_docker.manifest import parse_manifest
from cjm_docker.metadata import PluginMeta
from cjm_docker.name_rule import check_name
from cjm_docker.owner import new_session_id
from cjm_docker.scheduling import PermissiveScheduler, ResourceScheduler

log = logging.getLogger(__name__)


class PluginManager:
    """Discovers plugins from manifests and runs each loaded one in its own container.

    Args:
        plugin_interface: kept for 0.0.x compatibility (unused).
        search_paths: manifest folders, first wins (default: the data dir's ``manifests/``,
            then cjm.yaml's ``manifest_search_paths``). Manifests from any folder but the data
            dir's are held to the rules of docs/security.md (no system folders, no host
            network).
        scheduler: admission policy (default ``PermissiveScheduler``).
        config: cjm-docker configuration (default: the current one).
        engine: the Docker engine (default: from the environment, connected on first use).
    """

    def __init__(self, plugin_interface: type | None = None, search_paths: list[Path] | None = None,
                 scheduler: ResourceScheduler | None = None, *, config: CjmConfig | None = None,
                 engine: Engine | None = None):
        self.config = config or get_config()
        self.plugin_interface = plugin_interface
        self.search_paths = [Path(p) for p in search_paths] if search_paths is not None \
            else default_search_paths(self.config.manifests_dir,
                                      self.config.manifest_search_paths)
        self._scheduler = scheduler or PermissiveScheduler()
        self.session = new_session_id()
        self.discovered: list[PluginMeta] = []
        self.discovery_errors: dict[str, str] = {}
        self.plugins: dict[str, PluginMeta] = {}
        self.load_errors: dict[str, str] = {}
        self.system_monitor_name: str | None = None
        self._engine = engine
        self._configs: dict[str, dict[str, Any]] = {}
        self._busy: dict[str, int] = {}
        self._call_timeouts: dict[str, float | None] = {}
        self._lock = threading.RLock()
        self._name_locks: dict[str, threading.Lock] = {}
        self.attachments: dict[str, Attachment] = {}   # attach mode: plugins deployed elsewhere

    @property
    def scheduler(self) -> ResourceScheduler:
        """The admission policy (assignable: the broker follows)."""
        return self._scheduler

    @scheduler.setter
    def scheduler(self, value: ResourceScheduler) -> None:
        self._scheduler = value
        if self._resources is not None:
            self._resources.scheduler = value

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = Engine()
        return self._engine

    # -- discovery --------------------------------------------------------------------------

    def discover_manifests(self) -> list[PluginMeta]:
        """Read the manifests of every search path (sorted; a name's first manifest wins)."""
        self.discovered, self.discovery_errors = discover(
            self.search_paths, trusted=self.config.manifests_dir,
            private=(self.config.data_dir, self.config.resolved_runtime_dir))
        return self.discovered

    def get_discovered_meta(self, name: str) -> PluginMeta | None:
        """The discovered plugin that answers to ``name`` (manifest or plugins.yaml name)."""
        # An exact name wins over another plugin whose plugins.yaml entry (spec_name) is ``name``.
        return naming.pick(name, self.discovered, _names)

    def get_discovered_by_category(self, category: str) -> list[PluginMeta]:
        return [m for m in self.discovered if m.category == category]

    def get_plugins_by_category(self, category: str) -> list[PluginMeta]:
        return [m for m in self.plugins.values() if m.category == category]

    def get_discovered_categories(self) -> list[str]:
        return sorted({m.category for m in self.discovered if m.category})

    def get_loaded_categories(self) -> list[str]:
        return sorted({m.category for m in self.plugins.values() if m.category})

    def _key(self, name: str) -> str:
        """The manifest name of a loaded plugin, also when called by its plugins.yaml name."""
        if name in self.plugins:
            return name
        meta = naming.pick(name, self.plugins.values(), _names)
        return meta.name if meta is not None else name

    def get_plugin_meta(self, name: str) -> PluginMeta | None:
        return self.plugins.get(self._key(name))

    def list_plugins(self) -> list[PluginMeta]:
        return list(self.plugins.values())

    def get_plugin(self, name: str) -> RemotePluginProxy | None:
        meta = self.plugins.get(self._key(name))
        return meta.instance if meta else None

    # -- load / unload ----------------------------------------------------------------------

    def _resolve_meta(self, meta_or_name: PluginMeta | str) -> PluginMeta:
        if isinstance(meta_or_name, PluginMeta):
            check_name(meta_or_name.name, source=f"name of plugin {meta_or_name.name!r}")
            return meta_or_name
        check_name(meta_or_name, source="plugin name given to load_plugin")
        if not self.discovered:
            self.discover_manifests()
        meta = self.get_discovered_meta(meta_or_name)
        if meta is None:
            raise self.unknown(meta_or_name)
        return meta

    def unknown(self, name: str) -> UnknownPluginError:
        """The error for a name no discovered plugin answers to (names to type, near misses)."""
        folders = ", ".join(str(p) for p in self.search_paths)
        return naming.unknown_plugin(
            name, naming.typable(_names(m) for m in self.discovered),
            where=f"has a manifest in {folders}",
            hint="Install it with `cjm-ctl install-all` (see what is installed: `cjm-ctl list`).")

    def _name_lock(self, name: str) -> threading.Lock:
        with self._lock:
            return self._name_locks.setdefault(name, threading.Lock())

    def load_plugin(self, meta: PluginMeta | str, config: dict[str, Any] | None = None) -> bool:
        """Start the plugin's container and initialize it with its effective config.

        Idempotent: a loaded plugin is not started twice (a given config is applied instead).

        Raises:
            PluginConfigError, PluginStartError, PluginCallError: nothing is left running.
        """
        meta = self._resolve_meta(meta)
        with self._name_lock(meta.name):
            loaded = self.plugins.get(meta.name)
            if loaded is not None and loaded.instance is not None:
                if config is not None:
                    self.update_plugin_config(meta.name, config)
                return True
            effective = configs.effective_config(meta.name, meta.config_schema, config)
            # Typed from discovery on; only a hand-made meta (no model) has its dict parsed.
            manifest = meta.model or parse_manifest(meta.manifest, source=meta.name)
            attachment = self._attachment_for(meta)
            if attachment is not None:   # deployed elsewhere: attach, place nothing here
                proxy = RemotePluginProxy(manifest, config=self.config,
                                          worker=attachment.worker(manifest,
                                                                   lambda: self.engine))
            else:
                placement = self.resources.place(meta)   # GPU ids; raises GpuUnavailableError
                proxy = RemotePluginProxy(manifest, config=self.config, engine=self.engine,
                                          session=self.session,
                                          gpus=placement.request)
            try:
                if meta.name in self._call_timeouts:
                    proxy.call_timeout = self._call_timeouts[meta.name]
                proxy.initialize(effective)
            except BaseException:
                proxy.kill()
                raise
            meta.instance = proxy
            self._configs[meta.name] = effective
            self.plugins[meta.name] = meta
            self.load_errors.pop(meta.name, None)
            return True

    def load_all(self, configs_by_name: dict[str, dict[str, Any]] | None = None) -> dict[str, bool]:
        """Discover and load every plugin, in parallel; failures land in ``load_errors``."""
        metas = self.discover_manifests()
        configs_by_name = configs_by_name or {}

        def load(meta: PluginMeta) -> bool:
            try:
                return self.load_plugin(meta, configs_by_name.get(meta.name))
            except CjmDockerError as exc:
                self.load_errors[meta.name] = str(exc)
                log.error("Failed to load plugin %s: %s", meta.name, exc)
                return False

        if not metas:
            return {}
        with ThreadPoolExecutor(max_workers=min(8, len(metas))) as pool:
            return dict(zip([m.name for m in metas], pool.map(load, metas), strict=True))

    def unload_plugin(self, name: str) -> bool:
        """Run the plugin's cleanup and remove its container; False when it was not loaded."""
        name = self._key(name)
        with self._name_lock(name):
            meta = self.plugins.pop(name, None)
            if meta is None:
                return False
            proxy, meta.instance = meta.instance, None
            if proxy is not None:
                proxy.cleanup()
            return True

    def unload_all(self) -> None:
        for name in list(self.plugins):
            self.unload_plugin(name)

    def reload_plugin(self, name: str, config: dict[str, Any] | None = None) -> bool:
        """Replace the plugin's container, keeping its config (or applying ``config``)."""
        name = self._key(name)
        meta = self.plugins.get(name)
        if meta is None:
            return False
        keep = config if config is not None else self._current_config(name)
        self.unload_plugin(name)
        return self.load_plugin(meta, keep)

    def restart_plugin(self, name: str) -> None:
        """Kill the container at once (no cleanup) and start a fresh one with the same config."""
        name = self._key(name)
        meta = self._loaded(name)
        with self._name_lock(name):
            if meta.instance is not None:
                meta.instance.kill()
                meta.instance = None
            self.plugins.pop(name, None)
        self.load_plugin(meta, self._configs.get(name))

    async def restart_plugin_async(self, name: str) -> None:
        """``restart_plugin`` off the event loop."""
        await asyncio.to_thread(self.restart_plugin, name)

    def set_call_timeout(self, name: str, seconds: float | None) -> None:
        """Limit each execute (and each silent stretch of a stream) of a loaded plugin; a call
        that exceeds it raises ``WorkerTimeoutError`` and the hung container is replaced."""
        name = self._key(name)
        self._call_timeouts[name] = seconds
        proxy = self._loaded(name).instance
        if proxy is not None:
            proxy.call_timeout = seconds

    def _current_config(self, name: str) -> dict[str, Any]:
        return dict(self._configs.get(name) or {})

    # -- attach mode ------------------------------------------------------------------------

    def attach(self, attachment: Attachment) -> None:
        """Reach a plugin at workers that docker compose or Swarm runs, instead of starting a
        container for it; takes effect at its next load (``reload_plugin`` when loaded)."""
        self.attachments[attachment.plugin] = attachment

    def attach_deployment(self, folder: Path | str, *, stack: str | None = None,
                          plugins: list[str] | None = None, **options: Any) -> list[str]:
        """Attach every plugin of a deployment folder written by ``cjm-ctl compose``.

        Its manifests are searched first, so a host with no local install can load them.

        Args:
            folder: the deployment folder (or its compose file).
            stack: the Swarm stack it runs as; None: docker compose on this machine.
            plugins: only these plugins (manifest names).
            options: ``cjm_docker.deploy.Attachment`` fields (``ready_timeout``, ...).

        Returns:
            The names of the attached plugins.
        """
        deployment = read_deployment(Path(folder), stack=stack, plugins=plugins, **options)
        if deployment.manifests_dir not in self.search_paths:
            self.search_paths.insert(0, deployment.manifests_dir)
        self.discover_manifests()
        for attachment in deployment.attachments:
            self.attach(attachment)
        return [a.plugin for a in deployment.attachments]

    def _attachment_for(self, meta: PluginMeta) -> Attachment | None:
        if not self.attachments:  # every call asks: answer the common case first
            return None
        return self.attachments.get(meta.name) or \
            self.attachments.get(str(meta.manifest.get("spec_name") or "")) or None

    # -- enable / disable -------------------------------------------------------------------

    def enable_plugin(self, name: str) -> bool:
        meta = self.plugins.get(self._key(name))
        if meta is None:
            return False
        meta.enabled = True
        return True

    def disable_plugin(self, name: str) -> bool:
        meta = self.plugins.get(self._key(name))
        if meta is None:
            return False
        meta.enabled = False
        return True

    # -- config -----------------------------------------------------------------------------

    def get_plugin_config(self, name: str) -> dict[str, Any] | None:
        proxy = self.get_plugin(name)
        return proxy.get_current_config() if proxy else None

    def get_plugin_config_schema(self, name: str) -> dict[str, Any] | None:
        proxy = self.get_plugin(name)
        return proxy.get_config_schema() if proxy else None

    def get_all_plugin_configs(self) -> dict[str, dict[str, Any]]:
        return {name: meta.instance.get_current_config()
                for name, meta in self.plugins.items() if meta.instance}

    def update_plugin_config(self, name: str, config: dict[str, Any]) -> bool:
        """Validate (merged with defaults) and apply a new config; False when not loaded."""
        meta = self.plugins.get(self._key(name))
        if meta is None or meta.instance is None:
            return False
        effective = configs.effective_config(name, meta.config_schema, config)
        meta.instance.initialize(effective)
        self._configs[meta.name] = effective
        return True

    # -- execution --------------------------------------------------------------------------

    def _loaded(self, name: str) -> PluginMeta:
        meta = self.plugins.get(self._key(name))
        if meta is None:
            loaded = naming.typable(_names(m) for m in self.plugins.values())
            raise PluginNotLoadedError(
                f"Plugin '{name}' is not loaded.{naming.did_you_mean(name, loaded)} "
                f"Loaded: {naming.listing(loaded)}.", plugin=name, hint="Call load_plugin first.")
        return meta

    def _runnable(self, meta: PluginMeta) -> RemotePluginProxy:
        if not meta.enabled:
            raise PluginNotLoadedError(f"Plugin '{meta.name}' is disabled.", plugin=meta.name,
                                       hint="Enable it with enable_plugin.")
        if meta.instance is None:  # its container crashed earlier: the next call gets a fresh one
            self.load_plugin(meta, self._configs.get(meta.name))
        if meta.instance is None:  # load_plugin raises rather than leave it unloaded
            raise PluginNotLoadedError(f"Plugin '{meta.name}' could not be loaded.",
                                       plugin=meta.name)
        return meta.instance

    def _claim(self, meta: PluginMeta) -> None:
        # Busy from before admission: eviction (ours or another thread's) never picks a plugin
        # that a call is about to use.
        meta.last_executed = time.time()
        with self._lock:
            self._busy[meta.name] = self._busy.get(meta.name, 0) + 1

    def _release(self, meta: PluginMeta, exc: BaseException | None, started: bool) -> None:
        with self._lock:
            self._busy[meta.name] = max(0, self._busy.get(meta.name, 1) - 1)
        if started:
            self._scheduler.on_execution_finish(meta.name)
        # A dead or hung worker is replaced by the next call; an attached plugin stays loaded:
        # its other replicas (or a restarted one) serve on.
        if isinstance(exc, (WorkerCrashedError, WorkerTimeoutError)) and meta.instance is not None \
                and self._attachment_for(meta) is None:
            proxy, meta.instance = meta.instance, None
            proxy.kill()

    @contextmanager
    def _call_slot(self, name: str) -> Iterator[RemotePluginProxy]:
        """One call: the plugin claimed, admitted by the scheduler, released afterwards."""
        meta = self._loaded(name)
        self._claim(meta)
        started, error = False, None
        try:
            proxy = self._runnable(meta)
            self._admit(meta)
            self._scheduler.on_execution_start(meta.name)
            started = True
            yield proxy
        except BaseException as exc:
            error = exc
            raise
        finally:
            self._release(meta, error, started)

    @asynccontextmanager
    async def _call_slot_async(self, name: str) -> AsyncIterator[RemotePluginProxy]:
        """``_call_slot`` that never blocks the event loop (``execute_plugin_async`` spells it
        out: a context manager's generator costs a unary call a few microseconds)."""
        meta = self._loaded(name)
        self._claim(meta)
        started, error = False, None
        try:
            proxy = await self._start_async(meta)
            started = True
            yield proxy
        except BaseException as exc:
            error = exc
            raise
        finally:
            await self._release_async(meta, error, started)

    async def _start_async(self, meta: PluginMeta) -> RemotePluginProxy:
        """A claimed plugin made runnable and admitted, its execution started."""
        if meta.instance is None or not meta.enabled:   # restarting is blocking work
            proxy = await asyncio.to_thread(self._runnable, meta)
        else:
            proxy = meta.instance
        if self._scheduler.enforcing:  # the default scheduler is not asked (see ``_admit``)
            await self._admit_async(meta)
        self._scheduler.on_execution_start(meta.name)
        return proxy

    async def _release_async(self, meta: PluginMeta, error: BaseException | None,
                             started: bool) -> None:
        if isinstance(error, (WorkerCrashedError, WorkerTimeoutError)):
            await asyncio.to_thread(self._release, meta, error, started)  # kills: blocking
        else:
            self._release(meta, error, started)

    def is_busy(self, name: str) -> bool:
        """True while a call of ``name`` is in flight."""
        return self._busy.get(self._key(name), 0) > 0

    def _admit(self, meta: PluginMeta) -> None:
        """Ask the scheduler; when short, stop idle plugins; then wait if it waits.

        Raises:
            SchedulingError: refused, with the scheduler's reason.
        """
        # A scheduler that never refuses (the default) is not asked: its answer is known, and
        # every call would pay for the asking. An attached plugin uses no local resources.
        if self._scheduler.enforcing and self._attachment_for(meta) is None:
            self.resources.admit(meta)

    async def _admit_async(self, meta: PluginMeta) -> None:
        """``_admit`` that never blocks the event loop (eviction included)."""
        if self._scheduler.enforcing and self._attachment_for(meta) is None:
            await self.resources.admit_async(meta)

    def execute_plugin(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Run ``execute`` of a loaded plugin (scheduled, typed errors)."""
        with self._call_slot(name) as proxy:
            return proxy.execute(*args, **kwargs)

    async def execute_plugin_async(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """The async twin of ``execute_plugin``; never blocks the event loop."""
        meta = self._loaded(name)  # _call_slot_async, spelled out
        self._claim(meta)
        started, error = False, None
        try:
            proxy = await self._start_async(meta)
            started = True
            return await proxy.execute_async(*args, **kwargs)
        except BaseException as exc:
            error = exc
            raise
        finally:
            await self._release_async(meta, error, started)

    async def execute_plugin_stream(self, name: str, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        """Async generator of the plugin's chunks; errors are raised, never yielded."""
        async with self._call_slot_async(name) as proxy:
            async for chunk in proxy.execute_stream(*args, **kwargs):
                yield chunk

    def execute_plugin_stream_sync(self, name: str, *args: Any, **kwargs: Any) -> Iterator[Any]:
        """Sync iterator of the plugin's chunks; errors are raised, never yielded."""
        with self._call_slot(name) as proxy:
            yield from proxy.execute_stream_sync(*args, **kwargs)

    # -- stats, logs, monitor ---------------------------------------------------------------

    # Placement, admission, eviction and telemetry (created on first use).
    _resources: ResourceBroker | None = None

    @property
    def resources(self) -> ResourceBroker:
        if self._resources is None:
            self._resources = ResourceBroker(self, scheduler=self.scheduler,
                                             engine=lambda: self.engine, config=self.config,
                                             evict=self.unload_if_idle)
        return self._resources

    @property
    def telemetry(self) -> Any:
        """Where host, container and GPU figures come from (assignable: tests feed fakes)."""
        return self.resources.telemetry

    @telemetry.setter
    def telemetry(self, value: Any) -> None:
        self.resources.telemetry = value

    def get_plugin_stats(self, name: str) -> dict[str, Any] | None:
        """The worker's stats plus its container's figures as ``docker stats`` shows them.

        ``cpu_percent``, ``memory_usage_mb``, ``memory_limit_mb``, ``memory_percent``, ``pids``
        come from the engine (the worker's own CPU figure is kept as ``worker_cpu_percent``);
        ``gpu_memory_mb`` is the GPU memory of the container's processes.
        """
        meta = self.plugins.get(self._key(name))
        if meta is None or meta.instance is None:
            return None
        stats = dict(meta.instance.get_stats() or {})
        figures = self.resources.container_figures(meta)
        if figures:
            if "cpu_percent" in stats:
                stats["worker_cpu_percent"] = stats["cpu_percent"]
            stats.update(figures)
        return stats

    def get_plugin_logs(self, name: str, lines: int = 50) -> str:
        """The last ``lines`` the plugin's worker wrote."""
        proxy = self.get_plugin(name)
        if proxy is None:
            return "No logs found."
        return proxy.container.log_tail(lines)

    def register_system_monitor(self, plugin_name: str) -> None:
        """Use a loaded monitor plugin's ``execute("get_system_status")`` for stats.

        The name is kept, not the proxy, so a reloaded monitor is still found.
        """
        self.system_monitor_name = plugin_name
        if plugin_name not in self.plugins:
            log.warning("System monitor %s is not loaded yet", plugin_name)

    def get_global_stats(self) -> dict[str, Any]:
        """The system monitor's stats when one is registered and answers, else telemetry's
        (same keys: ``memory_available_mb``, ``gpu_free_memory_mb``, ...)."""
        return self.resources.global_stats()

    async def get_global_stats_async(self) -> dict[str, Any]:
        return await self.resources.global_stats_async()

    _get_global_stats = get_global_stats               # the 0.0.x names
    _get_global_stats_async = get_global_stats_async

    def unload_if_idle(self, name: str) -> bool:
        """Unload ``name`` unless a call of it is in flight (eviction); True when unloaded."""
        with self._lock:
            if self.is_busy(name) or name not in self.plugins:
                return False
        return self.unload_plugin(name)

    def _evict_for_resources(self, needed: PluginMeta) -> bool:
        """Stop least-recently-used idle plugins holding what is short (never a busy one) until
        the scheduler admits ``needed``; True when it did (its needs are then reserved)."""
        return self.resources.make_room(needed).admitted

    async def _evict_for_resources_async(self, needed: PluginMeta) -> bool:
        """``_evict_for_resources`` that never blocks the event loop."""
        return (await self.resources.make_room_async(needed)).admitted

    # -- context ----------------------------------------------------------------------------

    def __enter__(self) -> PluginManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.unload_all()


def _names(meta: PluginMeta) -> tuple[str, str]:
    """A plugin's (manifest name, plugins.yaml name)."""
    return meta.name, str(meta.manifest.get("spec_name") or "")
