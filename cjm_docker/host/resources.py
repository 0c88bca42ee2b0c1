"""``ResourceBroker``: the manager's resource side. It places containers on GPUs, admits calls
through the scheduler, stops idle plugins to make room, and reads telemetry.

The decisions themselves are pure functions of ``cjm_docker.scheduling`` (``plan_placement``,
``choose_victims``, the schedulers' ``assess``); this class gathers their inputs from what it is
given (a view of the loaded plugins, the scheduler, telemetry, an eviction callback: never the
whole manager), and carries them out. It owns the global stats (the system monitor's or
telemetry's) and eviction. Every async method keeps blocking work (engine calls, NVML, stopping
containers) off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from cjm_docker.config import CjmConfig
from cjm_docker.engine import Engine
from cjm_docker.errors import CjmDockerError, SchedulingError
from cjm_docker.gpu_access import GpuAccess, gpu_access_for
from cjm_docker.scheduling import (
    Admission,
    EvictionCandidate,
    Outcome,
    Placement,
    Requirements,
    ResourceScheduler,
    Shortage,
    choose_victims,
    plan_placement,
)
from cjm_docker.telemetry import Telemetry

if TYPE_CHECKING:
    from cjm_docker.metadata import PluginMeta

log = logging.getLogger(__name__)


class LoadedPlugins(Protocol):
    """The loaded plugins as the broker reads them (``PluginManager`` is one)."""

    @property
    def plugins(self) -> Mapping[str, PluginMeta]: ...

    @property
    def system_monitor_name(self) -> str | None: ...

    def is_busy(self, name: str) -> bool: ...

    def get_plugin(self, name: str) -> Any: ...


def _container_id(meta: PluginMeta) -> str | None:
    container = getattr(meta.instance, "container", None)
    return getattr(container, "id", None)


class ResourceBroker:
    """Placement, admission, eviction, stats and telemetry for one ``PluginManager``.

    Args:
        loaded: the loaded plugins (which are busy, which one is the system monitor).
        scheduler: the admission policy.
        engine: gives the engine on first use (telemetry, GPU access).
        config: cjm-docker configuration (GPU mode).
        evict: stops a plugin unless a call of it is in flight; True when it stopped it.
        telemetry: the sources of figures (default: host psutil, the engine, the first GPU
            provider that works).
    """

    def __init__(self, loaded: LoadedPlugins, *, scheduler: ResourceScheduler,
                 engine: Callable[[], Engine], config: CjmConfig,
                 evict: Callable[[str], bool], telemetry: Telemetry | None = None):
        self.loaded = loaded
        self.scheduler = scheduler
        self._engine = engine
        self._config = config
        self._evict_plugin = evict
        self._telemetry = telemetry
        self.placements: dict[str, Placement] = {}
        self._gpu_access: GpuAccess | None = None

    @property
    def telemetry(self) -> Telemetry:
        if self._telemetry is None:
            self._telemetry = Telemetry(self._engine())
        return self._telemetry

    @telemetry.setter
    def telemetry(self, value: Telemetry) -> None:
        self._telemetry = value

    def gpu_access(self) -> GpuAccess:
        """How the engine hands GPUs to containers (``cjm_docker.gpu_access``; asked once)."""
        if self._gpu_access is None:
            self._gpu_access = gpu_access_for(self._engine(), self.telemetry.gpu, self._config)
        return self._gpu_access

    # -- placement --------------------------------------------------------------------------

    def _reserved_vram(self) -> dict[int, float]:
        ledger = getattr(self.scheduler, "reservations", None)
        if ledger is None:
            return {}
        return {g.index: ledger.reserved_vram_mb(g.index) for g in self.telemetry.gpus()}

    def place(self, meta: PluginMeta) -> Placement:
        """Where ``meta``'s container runs: its GPU device ids (none for a CPU plugin).

        When no GPU has room and the scheduler enforces limits, idle plugins holding VRAM are
        stopped first (least recently used), never busy ones.

        Raises:
            GpuUnavailableError: it needs a GPU it cannot get and may not use the CPU.
        """
        # Computed once per load: every admission of this plugin reads it from its meta.
        req = meta.requirements = Requirements.from_manifest(meta.manifest)
        if not req.requires_gpu:
            placement = Placement()
        else:
            manifest = meta.manifest or {}
            env = {**(manifest.get("env_vars") or {}),
                   **((manifest.get("runtime") or {}).get("env") or {})}

            def plan() -> Placement:
                return plan_placement(meta.name, req, access=self.gpu_access(),
                                      gpus=self.telemetry.gpus(), env=env,
                                      reserved=self._reserved_vram())

            placement = plan()
            if not placement.fits and self.scheduler.enforcing:
                free = max((g.memory_free_mb for g in self.telemetry.gpus()), default=0.0)
                if self._evict(meta, Shortage(vram_mb=req.vram_mb - free)):
                    placement = plan()
            if placement.notice:
                log.warning("%s", placement.notice)
        self.placements[meta.name] = placement
        return placement

    def gpu_indices(self, name: str) -> tuple[int, ...] | None:
        """The GPUs ``name``'s VRAM counts against: () none, None unknown."""
        placement = self.placements.get(name)
        return placement.gpu_indices if placement is not None else None

    # -- stats ------------------------------------------------------------------------------

    def _reserving_containers(self) -> dict[str, str]:
        ledger = getattr(self.scheduler, "reservations", None)
        out = {}
        for name in ledger.holders() if ledger is not None else ():
            meta = self.loaded.plugins.get(name)
            container_id = _container_id(meta) if meta is not None else None
            if container_id:
                out[name] = container_id
        return out

    def stats(self) -> dict[str, Any]:
        """The 0.0.x stats dict from telemetry (with the usage of plugins holding reservations)."""
        return self.telemetry.stats(self._reserving_containers())

    async def stats_async(self) -> dict[str, Any]:
        return (await self.telemetry.snapshot_async(self._reserving_containers())).to_stats()

    def _monitor(self) -> Any:
        name = self.loaded.system_monitor_name
        return self.loaded.get_plugin(name) if name else None

    def global_stats(self) -> dict[str, Any]:
        """The system monitor's stats when one is registered and answers, else telemetry's
        (same keys: ``memory_available_mb``, ``gpu_free_memory_mb``, ...)."""
        monitor = self._monitor()
        if monitor is not None:
            try:
                return monitor.execute("get_system_status") or {}
            except CjmDockerError as exc:
                log.warning("Failed to fetch system stats: %s; using cjm-docker's telemetry", exc)
        return self.stats()

    async def global_stats_async(self) -> dict[str, Any]:
        """``global_stats`` for the event loop."""
        monitor = self._monitor()
        if monitor is not None:
            try:
                return await monitor.execute_async("get_system_status") or {}
            except CjmDockerError as exc:
                log.warning("Failed to fetch system stats: %s; using cjm-docker's telemetry", exc)
        return await self.stats_async()

    def container_figures(self, meta: PluginMeta) -> dict[str, Any]:
        """What ``docker stats`` shows for the plugin's container, plus its GPU memory."""
        container_id = _container_id(meta)
        if not container_id or self.telemetry.containers is None:
            return {}
        figures = self.telemetry.containers.read(container_id)
        if figures is None:
            return {}
        gpu = self.telemetry.gpu_memory_by_container().get(container_id, {})
        return {"container_id": container_id, "cpu_percent": round(figures.cpu_percent, 2),
                "memory_usage_mb": round(figures.memory_usage_mb, 2),
                "memory_limit_mb": round(figures.memory_limit_mb, 2),
                "memory_percent": round(figures.memory_percent, 2), "pids": figures.pids,
                "gpu_memory_mb": round(sum(gpu.values()), 2),
                "gpu_memory_by_device": {str(i): mb for i, mb in sorted(gpu.items())}}

    # -- admission --------------------------------------------------------------------------

    def _ask(self, meta: PluginMeta, wait: bool) -> Admission:
        scheduler = self.scheduler
        if not hasattr(scheduler, "admit"):   # a duck-typed 0.0.x scheduler
            ok = scheduler.allocate(meta, self.global_stats)
            return Admission.admit() if ok else Admission.refuse(f"{meta.name} was refused")
        return scheduler.admit(meta, self.global_stats,
                               gpu_indices=self.gpu_indices(meta.name), wait=wait)

    async def _ask_async(self, meta: PluginMeta, wait: bool) -> Admission:
        scheduler = self.scheduler
        if not hasattr(scheduler, "admit_async"):
            ok = await scheduler.allocate_async(meta, self.global_stats_async)
            return Admission.admit() if ok else Admission.refuse(f"{meta.name} was refused")
        return await scheduler.admit_async(meta, self.global_stats_async,
                                           gpu_indices=self.gpu_indices(meta.name), wait=wait)

    def admit(self, meta: PluginMeta) -> Admission:
        """Admit a call: ask, make room if short, then wait if the scheduler waits.

        Raises:
            SchedulingError: refused, with the scheduler's reason.
        """
        admission = self._ask(meta, wait=False)
        if not admission.admitted and admission.retryable:
            admission = self.make_room(meta, admission)
        if admission.outcome is Outcome.QUEUED:
            admission = self._ask(meta, wait=True)
        return self._final(meta, admission)

    async def admit_async(self, meta: PluginMeta) -> Admission:
        """``admit`` for the event loop."""
        admission = await self._ask_async(meta, wait=False)
        if not admission.admitted and admission.retryable:
            admission = await self.make_room_async(meta, admission)
        if admission.outcome is Outcome.QUEUED:
            admission = await self._ask_async(meta, wait=True)
        return self._final(meta, admission)

    @staticmethod
    def _final(meta: PluginMeta, admission: Admission) -> Admission:
        if admission.admitted:
            return admission
        raise SchedulingError(
            f"The scheduler refused plugin '{meta.name}': {admission.reason}", plugin=meta.name,
            reason=admission.reason,
            hint=None if not admission.retryable else
            "No idle plugin could be stopped to make room; retry when running calls finish.")

    # -- eviction ---------------------------------------------------------------------------

    def candidates(self, needed: PluginMeta, shortage: Shortage | None) -> list[EvictionCandidate]:
        """Every other loaded plugin with what its container holds (blocking: engine calls)."""
        want_ram = shortage is None or shortage.ram_mb > 0
        want_vram = shortage is None or shortage.vram_mb > 0
        by_container = self.telemetry.gpu_memory_by_container() if want_vram else {}
        out = []
        for name, meta in list(self.loaded.plugins.items()):
            container_id = _container_id(meta)
            if name == needed.name or container_id is None:
                continue
            ram = 0.0
            if want_ram and self.telemetry.containers is not None:
                figures = self.telemetry.containers.read(container_id, cpu=False)
                ram = figures.memory_usage_mb if figures else 0.0
            vram = dict(by_container.get(container_id, {}))
            placed = self.gpu_indices(name)
            if not vram and placed:   # no per-process figures: trust what it declared
                vram = dict.fromkeys(placed, Requirements.of(meta).vram_mb)
            out.append(EvictionCandidate(name, meta.last_executed, self.loaded.is_busy(name),
                                         ram, vram))
        return out

    def _protected(self, needed: PluginMeta) -> set[str]:
        monitor = self.loaded.system_monitor_name
        return {needed.name} | ({monitor} if monitor else set())

    def _evict_one(self, victim: EvictionCandidate) -> bool:
        """Stop ``victim`` unless it became busy meanwhile; True when it was stopped."""
        log.info("Evicting idle plugin %s (last used %.0f) to make room", victim.name,
                 victim.last_executed)
        try:
            return self._evict_plugin(victim.name)
        except CjmDockerError as exc:
            log.warning("Could not evict %s: %s", victim.name, exc)
            return False

    def _evict(self, needed: PluginMeta, shortage: Shortage) -> bool:
        """Stop the idle plugins ``choose_victims`` picks for ``shortage``; True if any."""
        victims = choose_victims(self.candidates(needed, shortage), shortage,
                                 protected=self._protected(needed))
        return any([self._evict_one(v) for v in victims])

    def make_room(self, needed: PluginMeta, admission: Admission | None = None) -> Admission:
        """Stop idle plugins holding what is short, least recently used first, one at a time,
        until the scheduler admits ``needed`` (its immediate answer, no waiting)."""
        admission = admission or self._ask(needed, wait=False)
        skipped: set[str] = set()
        while not admission.admitted and admission.retryable:
            victims = [v for v in choose_victims(self.candidates(needed, admission.shortage),
                                                 admission.shortage,
                                                 protected=self._protected(needed))
                       if v.name not in skipped]
            if not victims:
                break
            if not self._evict_one(victims[0]):
                skipped.add(victims[0].name)
                continue
            admission = self._ask(needed, wait=False)
        return admission

    async def make_room_async(self, needed: PluginMeta,
                              admission: Admission | None = None) -> Admission:
        """``make_room`` that never blocks the event loop."""
        admission = admission or await self._ask_async(needed, wait=False)
        skipped: set[str] = set()
        while not admission.admitted and admission.retryable:
            found = await asyncio.to_thread(self.candidates, needed, admission.shortage)
            victims = [v for v in choose_victims(found, admission.shortage,
                                                 protected=self._protected(needed))
                       if v.name not in skipped]
            if not victims:
                break
            if not await asyncio.to_thread(self._evict_one, victims[0]):
                skipped.add(victims[0].name)
                continue
            admission = await self._ask_async(needed, wait=False)
        return admission
