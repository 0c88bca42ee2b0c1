"""The conformance checks: each a name, a timeout, and ``run(context)`` that returns a short
message on success or raises ``CheckFailed`` / ``CheckSkipped`` naming what is wrong."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar

import jsonschema

from cjm_docker import labels, wire
from cjm_docker.conformance.context import ConformanceContext, PluginState, exchange_files
from cjm_docker.conformance.expectations import mismatches
from cjm_docker.errors import CjmDockerError, PluginConfigError
from cjm_docker.host import configs
from cjm_docker.host.proxy import RemotePluginProxy
from cjm_docker.host.signature import check_call
from cjm_docker.spec.plugins_file import SampleCall


class CheckFailed(Exception):  # noqa: N818  (a verdict, not an error of ours)
    """The plugin does not do what the check asks; ``detail`` goes to the JUnit body."""

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.detail = detail


class CheckSkipped(Exception):  # noqa: N818
    """The check does not apply (nothing declared, or the plugin is gone)."""


def _failed(exc: CjmDockerError, doing: str) -> CheckFailed:
    detail = getattr(exc, "log_tail", "") or getattr(exc, "remote_traceback", "") or ""
    return CheckFailed(f"{doing}: {exc}", detail=str(detail))


class Check:
    """One conformance check. Subclasses set ``name`` and implement ``run``."""

    name: ClassVar[str] = "check"
    needs_live_plugin: ClassVar[bool] = True
    timeout: float = 30.0

    @property
    def label(self) -> str:
        return self.name

    def run(self, ctx: ConformanceContext) -> str:
        raise NotImplementedError


class HealthCheck(Check):
    """The container starts, its worker answers health and speaks our protocol version."""

    name = "health"
    needs_live_plugin = False

    def __init__(self, timeout: float):
        self.timeout = timeout

    def run(self, ctx: ConformanceContext) -> str:
        manager = ctx.manager
        try:
            proxy = RemotePluginProxy(ctx.meta.manifest, config=manager.config,
                                      engine=manager.engine, session=manager.session)
        except CjmDockerError as exc:
            raise _failed(exc, "the container did not start") from exc
        ctx.adopt(proxy)
        health = proxy.client.health(timeout=5.0)
        if health.get("protocol") != wire.PROTOCOL_VERSION:
            raise CheckFailed(f"the worker speaks protocol {health.get('protocol')!r}, "
                              f"this host {wire.PROTOCOL_VERSION}")
        if health.get("status") not in (wire.WorkerState.READY.value, wire.WorkerState.BUSY.value):
            raise CheckFailed(f"the worker's status is {health.get('status')!r}, not ready")
        return f"ready, protocol {health['protocol']}"


class ConfigSchemaCheck(Check):
    """``get_config_schema`` returns a valid JSON Schema of an object.

    Unknown top-level keywords (0.0.x schemas carry ``name``) are tolerated, as JSON Schema does;
    known keywords with invalid values fail.
    """

    name = "config-schema"

    def run(self, ctx: ConformanceContext) -> str:
        assert ctx.proxy is not None
        try:
            schema = ctx.proxy.get_config_schema()
        except CjmDockerError as exc:
            raise _failed(exc, "get_config_schema failed") from exc
        if not isinstance(schema, dict):
            raise CheckFailed(f"the config schema is a {type(schema).__name__}, not a mapping")
        ctx.schema = schema
        validator = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
        try:
            validator.check_schema(schema)
        except jsonschema.SchemaError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "(top level)"
            raise CheckFailed(f"invalid JSON Schema at {where}: {exc.message}") from exc
        if schema.get("type", "object") != "object":
            raise CheckFailed(f"a config schema must describe an object, not {schema['type']!r}")
        ctx.schema_valid = True
        properties = schema.get("properties") or {}
        return f"{validator.__name__}, {len(properties)} properties"


class InitializeCheck(Check):
    """``initialize`` accepts the config made of the schema's defaults."""

    name = "initialize"

    def run(self, ctx: ConformanceContext) -> str:
        assert ctx.proxy is not None
        if ctx.schema_valid:
            try:
                config = configs.effective_config(ctx.name, ctx.schema, None)
            except PluginConfigError as exc:
                raise CheckFailed(f"the schema's own defaults fail it: {exc}") from exc
        else:   # the schema check already failed: still try the plugin with what it declares
            config = configs.schema_defaults(ctx.schema)
        try:
            ctx.proxy.initialize(config)
        except CjmDockerError as exc:
            raise _failed(exc, f"initialize({config!r}) failed") from exc
        ctx.config, ctx.initialized = config, True
        return f"with {config!r}"


class ConfigRoundTripCheck(Check):
    """``get_current_config`` reflects the config given; giving it back changes nothing."""

    name = "config-round-trip"

    def run(self, ctx: ConformanceContext) -> str:
        if not ctx.initialized:
            raise CheckSkipped("initialize failed")
        assert ctx.proxy is not None
        try:
            current = ctx.proxy.get_current_config()
        except CjmDockerError as exc:
            raise _failed(exc, "get_current_config failed") from exc
        if not isinstance(current, dict):
            raise CheckFailed(f"get_current_config returned a {type(current).__name__}")
        differ = {k: (v, current.get(k)) for k, v in ctx.config.items() if current.get(k) != v}
        if differ:
            raise CheckFailed("get_current_config differs from the config given: " + ", ".join(
                f"{k}: gave {a!r}, reports {b!r}" for k, (a, b) in sorted(differ.items())))
        try:
            ctx.proxy.initialize(current)
            again = ctx.proxy.get_current_config()
        except CjmDockerError as exc:
            raise _failed(exc, "initialize with its own current config failed") from exc
        if again != current:
            raise CheckFailed(f"giving back {current!r} changed it to {again!r}")
        return f"{len(current)} keys"


class SampleCheck(Check):
    """One sample call of plugins.yaml: its result meets the sample's expectations."""

    def __init__(self, index: int, sample: SampleCall):
        self.sample = sample
        self.index = index
        self.timeout = sample.timeout

    @property
    def label(self) -> str:  # type: ignore[override]
        kind = "stream" if self.sample.stream else "sample"
        return f"{kind}:{self.sample.name or f'#{self.index + 1}'}"

    def run(self, ctx: ConformanceContext) -> str:
        if not ctx.initialized:
            raise CheckSkipped("initialize failed")
        started = time.perf_counter()
        args = self.sample.args
        try:
            # A sample that does not fit execute's signature fails with the parameters listed,
            # not with the plugin's own TypeError.
            check_call(ctx.meta.manifest, [], args, stream=self.sample.stream)
            if self.sample.stream:
                result: Any = list(ctx.manager.execute_plugin_stream_sync(ctx.name, **args))
            else:
                result = ctx.manager.execute_plugin(ctx.name, **args)
        except CjmDockerError as exc:
            raise _failed(exc, f"the call with {args!r} failed") from exc
        problems = mismatches(self.sample, result)
        if problems:
            raise CheckFailed("; ".join(problems))
        seconds = time.perf_counter() - started
        shown = f"{len(result)} chunks" if self.sample.stream else "result as expected"
        return f"{shown} in {seconds:.2f} s"


class StreamingCheck(Check):
    """``execute_stream`` ends with at least one chunk (used when no stream sample exists)."""

    name = "streaming"

    def __init__(self, sample: SampleCall | None):
        self.sample = sample
        self.timeout = sample.timeout if sample else 30.0

    def run(self, ctx: ConformanceContext) -> str:
        if not ctx.initialized:
            raise CheckSkipped("initialize failed")
        if self.sample is None:
            raise CheckSkipped("no sample declares arguments for a stream")
        try:
            chunks = list(ctx.manager.execute_plugin_stream_sync(ctx.name, **self.sample.args))
        except CjmDockerError as exc:
            raise _failed(exc, "execute_stream failed") from exc
        if not chunks:
            raise CheckFailed("the stream ended without a chunk")
        return f"{len(chunks)} chunks"


class ProgressCheck(Check):
    """``get_progress`` answers with a progress between 0 and 1 and a message."""

    name = "progress"
    timeout = 10.0

    def run(self, ctx: ConformanceContext) -> str:
        assert ctx.proxy is not None
        progress = ctx.proxy.get_progress()
        value = progress.get("progress") if isinstance(progress, dict) else None
        if not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
            raise CheckFailed(f"get_progress answered {progress!r}, not a progress in [0, 1]")
        return f"{value:.2f} {progress.get('message', '')!r}"


class CancelCheck(Check):
    """``cancel`` with nothing running says so (False), and the plugin still answers."""

    name = "cancel"
    timeout = 10.0

    def run(self, ctx: ConformanceContext) -> str:
        assert ctx.proxy is not None
        if ctx.proxy.cancel():
            raise CheckFailed("cancel said it cancelled a call while none was running")
        if not ctx.proxy.is_alive():
            raise CheckFailed("the worker stopped answering after cancel")
        return "idle cancel answered False; worker alive"


class CleanupCheck(Check):
    """Unloading runs the plugin's cleanup and removes its container in time."""

    name = "cleanup"

    def __init__(self, timeout: float = 30.0):
        self.timeout = timeout

    def run(self, ctx: ConformanceContext) -> str:
        proxy = ctx.proxy
        assert proxy is not None
        container_id = getattr(proxy.container, "id", None)
        if not ctx.manager.unload_plugin(ctx.name):
            raise CheckFailed("the manager did not have the plugin loaded")
        ctx.proxy, ctx.state = None, PluginState.UNLOADED
        state = ctx.manager.engine.container_state(container_id) if container_id else None
        if state is not None:
            raise CheckFailed(f"the container is still there after unload ({state.status})")
        return "container removed"


class LeftoversCheck(Check):
    """After the run, no container of the session remains and no exchange file is left."""

    name = "no-leftovers"
    needs_live_plugin = False

    def run(self, ctx: ConformanceContext) -> str:
        manager = ctx.manager
        left = manager.engine.list_containers({labels.MANAGED: "true",
                                               labels.SESSION: manager.session})
        problems = [f"container {c.name or c.id} ({c.status})" for c in left]
        added = sorted(exchange_files(manager.config.exchange_dir) - ctx.exchange_before)
        problems += [f"exchange file {p}" for p in added]
        if problems:
            raise CheckFailed("left behind: " + ", ".join(problems))
        how = f" (after {ctx.killed_by} timed out)" if ctx.killed_by else ""
        return f"nothing left{how}"


@dataclass(frozen=True)
class Timeouts:
    """Seconds each kind of check may take (samples carry their own)."""

    start: float = 120.0
    call: float = 30.0
    cleanup: float = 30.0


def default_checks(samples: list[SampleCall], timeouts: Timeouts | None = None) -> list[Check]:
    """The suite, in the order it runs."""
    timeouts = timeouts or Timeouts()
    checks: list[Check] = [HealthCheck(timeouts.start), ConfigSchemaCheck(), InitializeCheck(),
                           ConfigRoundTripCheck()]
    checks += [SampleCheck(i, s) for i, s in enumerate(samples)]
    if not any(s.stream for s in samples):
        checks.append(StreamingCheck(samples[0] if samples else None))
    checks += [ProgressCheck(), CancelCheck(), CleanupCheck(timeouts.cleanup), LeftoversCheck()]
    return checks
