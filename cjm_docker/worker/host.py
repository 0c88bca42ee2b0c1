"""PluginHost: loads the plugin and runs every call to it on the plugin thread.

The event loop side (``progress``, ``cancel``, ``health``) only reads attributes and never waits
on the plugin, so it answers within milliseconds while an ``execute`` runs.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypeVar

from cjm_docker._version import __version__
from cjm_docker.wire import PROTOCOL_VERSION
from cjm_docker.worker.encoding import EncodingError, encode
from cjm_docker.worker.failures import (
    CallFailed,
    encoding_failure,
    format_traceback,
    not_ready,
    plugin_failure,
    qualified_name,
)
from cjm_docker.worker.lifecycle import HostState, Lifecycle
from cjm_docker.worker.plugin_thread import PluginThread
from cjm_docker.worker.streaming import LinePipe, produce

log = logging.getLogger(__name__)

T = TypeVar("T")

_OK = b'{"status":"ok"}'
_CLEANED = b'{"status":"cleaned"}'


class CallKind(str, Enum):
    """The plugin methods the worker calls on request."""

    INITIALIZE = "initialize"
    EXECUTE = "execute"
    STREAM = "execute_stream"
    CONFIG_SCHEMA = "get_config_schema"
    CURRENT_CONFIG = "get_current_config"
    CLEANUP = "cleanup"

    @property
    def is_job(self) -> bool:
        """Jobs start with fresh progress and cancel state."""
        return self in (CallKind.EXECUTE, CallKind.STREAM)


@dataclass
class Call:
    """One plugin call in progress."""

    kind: CallKind
    # Written by the event loop (/cancel), read on the plugin thread when the call fails.
    cancel_requested: bool = False
    started: float = field(default_factory=time.monotonic)


Work = Callable[[Any, Call], T]


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
        self.name = "unknown"
        self.version = "unknown"
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
        for attribute in ("name", "version"):
            try:
                value = str(getattr(self.plugin, attribute))
            except Exception:  # a property that raises before initialize()
                value = "unknown"
            setattr(self, attribute, value)

    # -- calls ---------------------------------------------------------------------------------

    def submit(self, kind: CallKind, work: Work[T]) -> Future[T]:
        """Queue ``work(plugin, call)`` on the plugin thread.

        Raises:
            CallFailed: 503 when the plugin is not loaded or the worker is stopping.
        """
        state = self.lifecycle.state
        if not state.accepts_calls:
            raise not_ready(state.value, self.error)
        return self._thread.submit(self._run_call, kind, work)

    async def call(self, kind: CallKind, work: Work[T]) -> T:
        """``submit`` and wait without blocking the event loop."""
        return await asyncio.wrap_future(self.submit(kind, work))

    def _run_call(self, kind: CallKind, work: Work[T]) -> T:
        if not self.lifecycle.try_move(HostState.BUSY):
            raise not_ready(self.lifecycle.state.value, self.error)
        call = Call(kind)
        if kind.is_job:
            _reset_job_state(self.plugin)
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
            log.warning("%s %s: %s: %s\n%s", kind.value, failure.category,
                        failure.body["error"]["type"], exc, failure.body["error"]["traceback"])
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
                "pid": os.getpid(), "name": self.name, "version": self.version,
                "runtime": __version__, "error": self.error}

    def progress(self) -> dict[str, Any]:
        """The /progress body, read from the plugin's ``_progress`` / ``_status_message``."""
        plugin = self.plugin
        try:
            progress = float(getattr(plugin, "_progress", 0.0) or 0.0)
        except Exception:  # not a number, or a property that raises
            progress = 0.0
        try:
            message = getattr(plugin, "_status_message", "") or ""
            message = message if isinstance(message, str) else str(message)
        except Exception:
            message = ""
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
            await asyncio.wait_for(asyncio.wrap_future(_run_aside(method)), self._cancel_timeout)
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
        method = getattr(self.plugin, "cancel", None)
        if callable(method):
            _run_aside(method).add_done_callback(_log_cancel_error)

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
        future = self._thread.submit(method) if on_plugin_thread else _run_aside(method)
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


def _reset_job_state(plugin: Any) -> None:
    """Fresh progress and cancel state before each job, so nothing leaks from the last one."""
    for name, value in (("_progress", 0.0), ("_status_message", "")):
        try:
            setattr(plugin, name, value)
        except Exception:  # read-only property or __slots__: the plugin reports its own way
            pass
    event = getattr(plugin, "__dict__", {}).get("_cjm_cancel_event")  # cjm_docker.interface
    if event is not None:
        event.clear()
    if hasattr(plugin, "_cancel_requested"):  # newer cjm-plugin-system plugins
        flag = plugin._cancel_requested
        try:
            if isinstance(flag, threading.Event):
                flag.clear()
            else:
                plugin._cancel_requested = False
        except Exception:
            pass


def _run_aside(fn: Callable[[], Any]) -> Future[Any]:
    """Run ``fn`` on a short-lived daemon thread, so a ``cancel()`` that blocks holds neither
    the event loop nor the plugin thread."""
    future: Future[Any] = Future()
    future.set_running_or_notify_cancel()  # running from now: a waiter's timeout cannot cancel it

    def target() -> None:
        try:
            future.set_result(fn())
        except BaseException as exc:
            future.set_exception(exc)

    threading.Thread(target=target, name="cjm-aside", daemon=True).start()
    return future


def _log_cancel_error(future: Future[Any]) -> None:
    exc = future.exception()
    if exc is not None:
        log.warning("the plugin's cancel() raised: %r", exc)
