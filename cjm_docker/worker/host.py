"""PluginHost: loads the plugin and runs every call to it on the plugin thread.

The event loop side (``progress``, ``cancel``, ``health``) only reads attributes and never waits
on the plugin, so it answers within milliseconds while an ``execute`` runs.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import socket
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

from cjm_docker._version import __version__
from cjm_docker.codec import EncodingError, encode
from cjm_docker.wire import PROTOCOL_VERSION
from cjm_docker.worker.calls import Call, CallKind, Work
from cjm_docker.worker.conventions import (
    UNKNOWN,
    read_identity,
    read_progress,
    reset_job_state,
)
from cjm_docker.worker.failures import (
    CallFailed,
    encoding_failure,
    format_traceback,
    log_failure,
    not_ready,
    plugin_failure,
    qualified_name,
)
from cjm_docker.worker.lifecycle import HostState, Lifecycle
from cjm_docker.worker.plugin_thread import PluginThread, run_aside
from cjm_docker.worker.streaming import LinePipe, produce

log = logging.getLogger(__name__)

T = TypeVar("T")

_OK = b'{"status":"ok"}'
_CLEANED = b'{"status":"cleaned"}'


# The container's hostname tells replicas apart (every worker is pid 7 in its own namespace).
_HOSTNAME = socket.gethostname()


class PluginHost:
    """Hosts one plugin instance.

    Args:
        module: importable module holding the plugin class.
        class_name: the class, instantiated with no arguments.
        on_load_failed: called on the plugin thread after a failed load (the CLI exits there).
        cancel_timeout: how long /cancel waits for the plugin's ``cancel()`` to return.
    """

    def __init__(self, module: str, class_name: str, *,
                 on_load_failed: Callable[[PluginHost], None] | None = None,
                 cancel_timeout: float = 1.0) -> None:
        self.module = module
        self.class_name = class_name
        self.lifecycle = Lifecycle()
        self.plugin: Any = None
        self.name = UNKNOWN
        self.version = UNKNOWN
        self.error: str | None = None            # one line, when loading failed
        self.load_traceback: str = ""
        self._on_load_failed = on_load_failed
        self._cancel_timeout = cancel_timeout
        self._thread = PluginThread()
        self._current: Call | None = None
        self._needs_cleanup = False              # False again after a successful cleanup()

    @property
    def state(self) -> HostState:
        """The lifecycle state."""
        return self.lifecycle.state

    @property
    def busy(self) -> bool:
        """True while a plugin call runs."""
        return self._current is not None

    # -- loading -------------------------------------------------------------------------------

    def start_loading(self) -> Future[None]:
        """Import and instantiate the plugin on the plugin thread; the future ends when done."""
        return self._thread.submit(self._load)

    def _load(self) -> None:
        try:
            module = importlib.import_module(self.module)
            plugin = getattr(module, self.class_name)()
        except BaseException as exc:  # SystemExit from a module's top level counts too
            self.error = f"{qualified_name(type(exc))}: {exc}"
            self.load_traceback = format_traceback(exc)
            self.lifecycle.try_move(HostState.FAILED)
            if self._on_load_failed is not None:
                self._on_load_failed(self)
            return
        self.plugin = plugin
        self._needs_cleanup = True
        self._read_identity()
        self.lifecycle.try_move(HostState.READY)  # stays STOPPING if shutdown began meanwhile

    def _read_identity(self) -> None:
        self.name, self.version = read_identity(self.plugin)

    # -- calls ---------------------------------------------------------------------------------

    def submit(self, kind: CallKind, work: Work[T]) -> Future[T]:
        """Queue ``work(plugin, call)`` on the plugin thread.

        Raises:
            CallFailed: 503 when the plugin is not loaded or the worker is stopping.
        """
        self._admit()
        return self._thread.submit(self._run_call, kind, work)

    async def call(self, kind: CallKind, work: Work[T]) -> T:
        """Run ``work(plugin, call)`` on the plugin thread; wait without blocking the loop.

        Raises:
            CallFailed: 503 when the plugin is not loaded or the worker is stopping.
        """
        self._admit()
        return await self._thread.run(self._run_call, kind, work)

    def _admit(self) -> None:
        state = self.lifecycle.state
        if not state.accepts_calls:
            raise not_ready(state.value, self.error)

    def _run_call(self, kind: CallKind, work: Work[T]) -> T:
        if not self.lifecycle.try_move(HostState.BUSY):
            raise not_ready(self.lifecycle.state.value, self.error)
        call = Call(kind)
        if kind.is_job:
            reset_job_state(self.plugin)
        self._current = call
        try:
            return work(self.plugin, call)
        except CallFailed:
            raise
        except EncodingError as exc:
            log.warning("%s: %s", kind.value, exc)
            raise encoding_failure(exc) from exc
        except BaseException as exc:
            failure = plugin_failure(exc, cancel_requested=call.cancel_requested)
            log_failure(kind.value, failure)
            raise failure from exc
        finally:
            self._current = None
            self.lifecycle.try_move(HostState.READY)

    async def initialize(self, config: dict[str, Any] | None) -> bytes:
        """Call ``initialize(config)``; answer ``{"status": "ok"}``."""
        def work(plugin: Any, call: Call) -> bytes:
            self._needs_cleanup = True
            method = getattr(plugin, "initialize", None)
            if callable(method):
                method(config)
            self._read_identity()
            return _OK
        return await self.call(CallKind.INITIALIZE, work)

    async def execute(self, args: list[Any], kwargs: dict[str, Any]) -> bytes:
        """Call ``execute(*args, **kwargs)``; answer the encoded result (encoded off the loop)."""
        def work(plugin: Any, call: Call) -> bytes:
            self._needs_cleanup = True
            return encode(plugin.execute(*args, **kwargs))
        return await self.call(CallKind.EXECUTE, work)

    async def read_config(self, kind: CallKind) -> bytes:
        """``get_config_schema()`` or ``get_current_config()``; ``{}`` when absent or None."""
        def work(plugin: Any, call: Call) -> bytes:
            method = getattr(plugin, kind.value, None)
            value = method() if callable(method) else None
            return encode({} if value is None else value, root="config")
        return await self.call(kind, work)

    async def cleanup(self) -> bytes:
        """Call ``cleanup()``; answer ``{"status": "cleaned"}``."""
        def work(plugin: Any, call: Call) -> bytes:
            method = getattr(plugin, "cleanup", None)
            if callable(method):
                method()
            self._needs_cleanup = False
            return _CLEANED
        return await self.call(CallKind.CLEANUP, work)

    def start_stream(self, args: list[Any], kwargs: dict[str, Any], pipe: LinePipe) -> Future[None]:
        """Queue the plugin's stream; its frames arrive in ``pipe``.

        Raises:
            CallFailed: 503 when the plugin is not loaded or the worker is stopping.
        """
        def work(plugin: Any, call: Call) -> None:
            self._needs_cleanup = True
            pipe.call = call
            produce(plugin, call, args, kwargs, pipe)
        return self.submit(CallKind.STREAM, work)

    # -- control plane (event loop) ------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """The /health body."""
        return {"status": self.lifecycle.state.wire.value, "protocol": PROTOCOL_VERSION,
                "pid": os.getpid(), "hostname": _HOSTNAME, "name": self.name,
                "version": self.version, "runtime": __version__, "error": self.error}

    def progress(self) -> dict[str, Any]:
        """The /progress body, read from the plugin's ``_progress`` / ``_status_message``."""
        progress, message = read_progress(self.plugin)
        return {"progress": progress, "message": message, "busy": self.busy}

    async def cancel(self) -> dict[str, Any]:
        """The /cancel body; calls the plugin's ``cancel()`` on a short-lived thread.

        Raises:
            CallFailed: the plugin's ``cancel()`` raised.
        """
        call = self._current
        if call is None:
            return {"cancelled": False, "status": "idle"}
        method = getattr(self.plugin, "cancel", None)
        if not callable(method):
            return {"cancelled": False, "status": "not_supported"}
        call.cancel_requested = True
        try:
            await asyncio.wait_for(asyncio.wrap_future(run_aside(self._cancel_if_current(call))),
                                   self._cancel_timeout)
        except asyncio.TimeoutError:
            log.warning("the plugin's cancel() did not return within %.1f s",
                        self._cancel_timeout)
        except Exception as exc:
            raise plugin_failure(exc, cancel_requested=False) from exc
        return {"cancelled": True, "status": "cancelled"}

    def request_cancel(self, call: Call | None) -> None:
        """Ask ``call`` to stop if it still runs, without waiting (client gone, shutdown)."""
        if call is None or call is not self._current:
            return
        call.cancel_requested = True
        if callable(getattr(self.plugin, "cancel", None)):
            run_aside(self._cancel_if_current(call)).add_done_callback(_log_cancel_error)

    def _cancel_if_current(self, call: Call) -> Callable[[], None]:
        """``plugin.cancel`` unless ``call`` has ended by the time the aside thread runs: the
        next call starts with its cancel state cleared, and a late cancel() would set it."""
        def cancel() -> None:
            if self._current is call:
                self.plugin.cancel()
        return cancel

    # -- shutdown ------------------------------------------------------------------------------

    def shutdown(self, timeout: float) -> bool:
        """Refuse new calls, let a running one stop, run ``cleanup()``; blocking.

        Half of ``timeout`` goes to letting the running call end (after asking it to cancel)
        so that cleanup does not race it; the rest to cleanup itself. A cleanup that cannot get
        the plugin thread (a stuck execute) runs on a thread of its own: releasing GPU memory
        and child processes matters more at exit than the plugin's thread-safety.

        Returns:
            False when cleanup did not finish in time.
        """
        deadline = time.monotonic() + timeout
        previous = self.lifecycle.stop()
        if previous in (HostState.FAILED, HostState.STOPPING):
            return True
        self.request_cancel(self._current)
        self._thread.wait_idle(timeout / 2)
        method = getattr(self.plugin, "cleanup", None)
        if self.plugin is None or not self._needs_cleanup or not callable(method):
            return True
        on_plugin_thread = self._thread.idle
        future = self._thread.submit(method) if on_plugin_thread else run_aside(method)
        try:
            future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            return False
        except BaseException as exc:
            log.warning("cleanup() raised during shutdown:\n%s", format_traceback(exc))
        self._needs_cleanup = False
        return True

    def close(self) -> None:
        """End the plugin thread once idle (for tests; the process exit does it otherwise)."""
        self._thread.stop()


def _log_cancel_error(future: Future[Any]) -> None:
    exc = future.exception()
    if exc is not None:
        log.warning("the plugin's cancel() raised: %r", exc)
