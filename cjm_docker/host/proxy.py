"""``RemotePluginProxy``: the host-side stand-in for a plugin running in its own container.

It keeps the method names of cjm-plugin-system's proxy (sync and async execute, streams, progress,
cancel, stats, config, cleanup, context managers) over one pooled connection per container.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

from cjm_docker.codec import plain_call
from cjm_docker.config import CjmConfig, get_config
from cjm_docker.engine import Engine
from cjm_docker.errors import (
    CjmDockerError,
    PluginArgumentError,
    PluginCallError,
    PluginNotLoadedError,
    WorkerUnreachable,
)
from cjm_docker.gpu_access import GpuRequest
from cjm_docker.host.arguments import PreparedCall
from cjm_docker.host.channel import WorkerChannel
from cjm_docker.host.container import PluginContainer
from cjm_docker.host.handle import WorkerHandle
from cjm_docker.host.signature import check_call
from cjm_docker.interface import PluginInterface
from cjm_docker.manifest import Manifest, parse_manifest
from cjm_docker.owner import current_owner, new_session_id

_IDLE_PROGRESS = {"progress": 0.0, "message": ""}


class RemotePluginProxy(PluginInterface):
    """A plugin in its own container, driven over the worker protocol.

    Construction starts the container and blocks until the worker is ready, as in 0.0.x.

    Args:
        manifest: the plugin's manifest (a dict as read from disk, or a ``Manifest``).
        config: cjm-docker configuration (default: the current one).
        engine: the Docker engine (default: from the environment).
        session: the manager session id that owns the container.
        gpus: the GPUs to hand to the container, as the engine takes them (``Placement.request``).
        worker: where the worker runs, when not in a container this proxy starts (attach mode).
    """

    def __init__(self, manifest: dict[str, Any] | Manifest, *, config: CjmConfig | None = None,
                 engine: Engine | None = None, session: str | None = None,
                 gpus: GpuRequest | None = None, worker: WorkerHandle | None = None):
        self.manifest = manifest if isinstance(manifest, Manifest) else \
            parse_manifest(manifest, source=f"for plugin {manifest.get('name', '?')!r}")
        self.config = config or get_config()
        if worker is None:
            self.engine = engine or Engine()
            worker = PluginContainer(self.manifest, config=self.config, engine=self.engine,
                                     owner=current_owner(), session=session or new_session_id())
        self.container: WorkerHandle = worker
        #: Seconds an execute (or a silent stretch of a stream) may take; None: no limit.
        self.call_timeout: float | None = self.manifest.runtime.call_timeout
        self._client: WorkerChannel | None = self.container.start(gpus)

    # -- identity ---------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def version(self) -> str:
        return self.manifest.version

    @property
    def client(self) -> WorkerChannel:
        if self._client is None:
            raise PluginNotLoadedError(f"Plugin '{self.name}' has been cleaned up.",
                                       plugin=self.name, hint="Load it again.")
        return self._client

    def _prepare(self, args: tuple, kwargs: dict) -> tuple[dict[str, Any], PreparedCall | None]:
        """The request body, and the call whose exchange files go after it (None: no files)."""
        body = plain_call(args, kwargs)
        if body is not None:  # the hot path: no paths to resolve, no files to place
            return body, None
        call = PreparedCall(self.container.exchange_folder() or self.config.exchange_dir,
                            self.container.visible_roots(), self.name,
                            exchange_root=self.config.exchange_dir)
        return call.body(args, kwargs), call

    def _crashed(self, exc: WorkerUnreachable, during: str) -> CjmDockerError:
        return self.container.crash_error(during) or exc

    def _refuse_misfit(self, exc: PluginCallError, args: tuple, kwargs: dict,
                       stream: bool) -> None:
        """Raise the clear ``PluginArgumentError`` when a call the plugin answered with a
        ``TypeError`` does not fit its recorded signature; return (the plugin's error stands)
        otherwise.

        Checked after the fact, so a call that fits (every call on the hot path) pays nothing.
        """
        if exc.remote_type != "TypeError":
            return
        try:
            check_call(self.manifest.model_dump(by_alias=True), args, kwargs, stream=stream)
        except PluginArgumentError as misfit:
            raise misfit from exc

    # -- calls ------------------------------------------------------------------------------

    def initialize(self, config: dict[str, Any] | None = None) -> None:
        """Send the full config (no timeout: a plugin may load a model here)."""
        try:
            self.client.call("POST", "/initialize", config or {}, timeout=None)
        except WorkerUnreachable as exc:
            raise self._crashed(exc, "initialize") from exc

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        """Run the plugin's ``execute`` in its container and return the result."""
        body, call = self._prepare(args, kwargs)
        try:
            return self.client.call("POST", "/execute", body, timeout=self.call_timeout)
        except WorkerUnreachable as exc:
            raise self._crashed(exc, "execute") from exc
        except PluginCallError as exc:
            self._refuse_misfit(exc, args, kwargs, stream=False)
            raise
        finally:
            if call is not None:
                call.discard()

    async def execute_async(self, *args: Any, **kwargs: Any) -> Any:
        """The async twin of ``execute``; never blocks the event loop."""
        body, call = self._prepare(args, kwargs)
        try:
            return await self.client.acall("POST", "/execute", body, timeout=self.call_timeout)
        except WorkerUnreachable as exc:
            raise await asyncio.to_thread(self._crashed, exc, "execute") from exc
        except PluginCallError as exc:
            self._refuse_misfit(exc, args, kwargs, stream=False)
            raise
        finally:
            if call is not None:
                call.discard()

    def execute_stream_sync(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        """Yield the plugin's chunks as they come; an error in the stream is raised."""
        body, call = self._prepare(args, kwargs)
        try:
            yield from self.client.stream("/execute_stream", body, timeout=self.call_timeout)
        except WorkerUnreachable as exc:
            raise self._crashed(exc, "a stream") from exc
        except PluginCallError as exc:
            self._refuse_misfit(exc, args, kwargs, stream=True)
            raise
        finally:
            if call is not None:
                call.discard()

    async def execute_stream(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:  # type: ignore[override]
        """Async generator of the plugin's chunks (0.0.x's ``execute_stream``)."""
        body, call = self._prepare(args, kwargs)
        try:
            async for chunk in self.client.astream("/execute_stream", body,
                                                   timeout=self.call_timeout):
                yield chunk
        except WorkerUnreachable as exc:
            raise await asyncio.to_thread(self._crashed, exc, "a stream") from exc
        except PluginCallError as exc:
            self._refuse_misfit(exc, args, kwargs, stream=True)
            raise
        finally:
            if call is not None:
                call.discard()

    execute_stream_async = execute_stream

    # -- control ----------------------------------------------------------------------------

    def get_progress(self) -> dict[str, Any]:
        """``{"progress", "message", "busy"}`` of the running call."""
        try:
            return self.client.call("GET", "/progress", timeout=2.0)
        except WorkerUnreachable:
            return dict(_IDLE_PROGRESS)

    async def get_progress_async(self) -> dict[str, Any]:
        try:
            return await self.client.acall("GET", "/progress", timeout=2.0)
        except WorkerUnreachable:
            return dict(_IDLE_PROGRESS)

    def cancel(self) -> bool:
        """Ask the running call to stop; True when there was one and the plugin was told."""
        try:
            return bool(self.client.call("POST", "/cancel", timeout=2.0).get("cancelled"))
        except WorkerUnreachable:
            return False

    async def cancel_async(self) -> bool:
        try:
            return bool((await self.client.acall("POST", "/cancel", timeout=2.0)).get("cancelled"))
        except WorkerUnreachable:
            return False

    def get_stats(self) -> dict[str, Any]:
        """The worker's own view: pid, CPU %, RSS of the plugin's processes, busy."""
        try:
            return self.client.call("GET", "/stats")
        except WorkerUnreachable as exc:
            raise self._crashed(exc, "get_stats") from exc

    def get_config_schema(self) -> dict[str, Any]:
        try:
            return self.client.call("GET", "/config_schema")
        except WorkerUnreachable as exc:
            raise self._crashed(exc, "get_config_schema") from exc

    def get_current_config(self) -> dict[str, Any]:
        try:
            return self.client.call("GET", "/config")
        except WorkerUnreachable as exc:
            raise self._crashed(exc, "get_current_config") from exc

    def is_alive(self) -> bool:
        """True when the worker answers its health check."""
        if self._client is None:
            return False
        try:
            return self._client.health(timeout=2.0).get("status") in ("ready", "busy")
        except CjmDockerError:
            return False

    def cleanup(self) -> None:
        """Run the plugin's cleanup, stop and remove its container. Idempotent."""
        if self._client is None:
            return
        try:
            self._client.call("POST", "/cleanup", timeout=10.0)
        except CjmDockerError:
            pass  # a dead or stuck worker: stopping the container is what matters
        finally:
            self._client = None
            # The worker already ran cleanup(); SIGTERM would only run it again.
            self.container.stop(grace=0.5)

    def kill(self) -> None:
        """Remove the container at once, without the plugin's cleanup."""
        self._client = None
        self.container.remove()

    async def cleanup_async(self) -> None:
        import asyncio

        await asyncio.to_thread(self.cleanup)

    # -- context managers -------------------------------------------------------------------

    def __enter__(self) -> RemotePluginProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    async def __aenter__(self) -> RemotePluginProxy:
        return self

    async def __aexit__(self, *exc: object) -> bool:
        await self.cleanup_async()
        return False

    def __repr__(self) -> str:
        return f"RemotePluginProxy({self.name!r}, container={self.container.name!r})"
