"""Every error cjm-docker raises, under one root.

    CjmDockerError                     root: catch this to catch everything of ours
    ├── ConfigError                    cjm.yaml / CJM_* variables / CLI flags are invalid
    ├── SpecError                      plugins.yaml or an environment spec is invalid
    │   ├── UnknownPluginError         a name that plugins.yaml / the manifests do not list
    │   └── InvalidNameError           a plugin name breaks the one name rule (a ValueError)
    ├── EngineError                    the Docker engine refused or is unreachable
    │   └── EngineUnavailableError     no engine answers at all
    ├── ImageError                     anything on the image side
    │   ├── BaseImageMissingError      a base image is absent and could not be pulled/bootstrapped
    │   ├── BuildError                 `docker build` failed (carries the failing step and log tail)
    │   └── IntrospectionError         the built image could not describe its plugin
    ├── ManifestError                  a manifest file is missing or malformed
    ├── PluginError                    anything about a loaded plugin
    │   ├── PluginNotLoadedError       the plugin is not loaded (or is disabled)
    │   ├── PluginStartError           its container did not become ready (carries the log tail)
    │   ├── PluginConfigError          a config failed the plugin's schema
    │   ├── PluginArgumentError        a call's arguments do not fit execute's signature (a TypeError)
    │   ├── PluginCallError            the plugin raised: remote type, message, traceback
    │   │   └── PluginCancelledError   the plugin stopped because it was cancelled
    │   ├── WorkerCrashedError         the container died during a call (exit code, OOM flag)
    │   ├── WorkerUnreachable          the connection to the worker failed or broke
    │   │   └── WorkerConnectError     no connection could be opened: the request never left
    │   ├── WorkerTimeoutError         a call exceeded its timeout (a TimeoutError)
    │   ├── ProtocolError              the worker answered something outside the protocol
    │   │   └── AnswerTooLargeError    an answer or stream frame over the configured maximum
    │   ├── ArgumentError              an argument cannot cross (too deep, a bad key or type)
    │   └── PathNotVisibleError        a path argument the container cannot see
    ├── EncodingError                  a value the codec cannot carry as JSON (names where it sits)
    ├── SchedulingError                the scheduler refused to admit a call (carries the reason)
    │   └── GpuUnavailableError        a plugin needs a GPU this engine cannot give it
    └── QueueError                     the job queue refused a request or lost its journal
        ├── UnknownJobError            no job has that id, in memory or in the journal (a ValueError)
        ├── JobWaitTimeoutError        wait_for_job gave up before the job ended (a TimeoutError)
        ├── JobInterruptedError        the host stopped while the job ran (recorded, not raised)
        ├── JournalError               the job journal cannot be opened, is in use, or failed a write
        └── JournalRowError            one journaled job's arguments cannot be read back

Foreign exceptions (docker SDK, requests, socket errors, yaml, pydantic) are translated where they are caught,
always re-raised ``from`` the original so ``--debug`` shows both.
"""

from __future__ import annotations


class CjmDockerError(Exception):
    """Root of every cjm-docker error.

    Args:
        message: one paragraph: what went wrong, for which plugin, and what to do.
        plugin: the plugin concerned, when there is one.
        hint: what the user can do about it, appended to the message.
    """

    def __init__(self, message: str, *, plugin: str | None = None, hint: str | None = None):
        self.plugin = plugin
        self.hint = hint
        self.message = message
        super().__init__(self._render())

    def _render(self) -> str:
        text = self.message
        if self.plugin and f"'{self.plugin}'" not in text:
            text = f"[{self.plugin}] {text}"
        if self.hint:
            text = f"{text} {self.hint}"
        return text


class ConfigError(CjmDockerError):
    """cjm.yaml, a CJM_* variable or a CLI flag is invalid."""


class SpecError(CjmDockerError):
    """plugins.yaml or an environment spec is invalid (names the file, plugin and key)."""


class UnknownPluginError(SpecError):
    """A plugin name that is neither in plugins.yaml nor among the manifests."""


class InvalidNameError(SpecError, ValueError):
    """A plugin name (from a file, a plugin's metadata, the API or the CLI) breaks the name
    rule of ``cjm_docker.naming``, or a path built from it would leave its folder."""


class EngineError(CjmDockerError):
    """The Docker engine refused a request."""


class EngineUnavailableError(EngineError):
    """No Docker engine answers."""


class ImageError(CjmDockerError):
    """Something on the image side failed."""


class BaseImageMissingError(ImageError):
    """A base image is not present and could not be pulled or bootstrapped."""


class BuildError(ImageError):
    """`docker build` failed.

    Attributes:
        step: the Dockerfile step that failed (e.g. ``Step 5/9 : RUN pip install ...``).
        log_tail: the last lines of the build output.
    """

    def __init__(self, message: str, *, plugin: str | None = None, step: str | None = None,
                 log_tail: str = "", hint: str | None = None):
        self.step = step
        self.log_tail = log_tail
        super().__init__(message, plugin=plugin, hint=hint)

    def _render(self) -> str:
        text = super()._render()
        if self.step:
            text += f"\nFailing step: {self.step}"
        if self.log_tail:
            text += f"\n--- build log (tail) ---\n{self.log_tail}"
        return text


class IntrospectionError(ImageError):
    """The built image could not produce its plugin's metadata (output attached)."""

    def __init__(self, message: str, *, plugin: str | None = None, output: str = "",
                 hint: str | None = None):
        self.output = output
        super().__init__(message, plugin=plugin, hint=hint)

    def _render(self) -> str:
        text = super()._render()
        if self.output:
            text += f"\n--- introspection output ---\n{self.output}"
        return text


class ManifestError(CjmDockerError):
    """A manifest is missing or malformed."""


class PluginError(CjmDockerError):
    """Something about a plugin at run time."""


class PluginNotLoadedError(PluginError):
    """The plugin is not loaded, or it is disabled."""


class PluginStartError(PluginError):
    """The plugin's container did not become ready.

    Attributes:
        log_tail: the last lines the worker printed.
        exit_code: the container's exit code, when it exited.
    """

    def __init__(self, message: str, *, plugin: str | None = None, log_tail: str = "",
                 exit_code: int | None = None, hint: str | None = None):
        self.log_tail = log_tail
        self.exit_code = exit_code
        super().__init__(message, plugin=plugin, hint=hint)

    def _render(self) -> str:
        text = super()._render()
        if self.log_tail:
            text += f"\n--- worker log (tail) ---\n{self.log_tail}"
        return text


class PluginConfigError(PluginError):
    """A config failed the plugin's JSON Schema (``errors`` lists each failure)."""

    def __init__(self, message: str, *, plugin: str | None = None,
                 errors: list[str] | None = None, hint: str | None = None):
        self.errors = list(errors or [])
        super().__init__(message, plugin=plugin, hint=hint)


class PluginArgumentError(PluginError, TypeError):
    """A call's arguments do not fit the plugin's recorded ``execute`` signature (checked before
    any container starts). Also a ``TypeError``, which is what the call itself would raise."""


class PluginCallError(PluginError):
    """The plugin raised inside its container.

    Attributes:
        remote_type: the exception's qualified type name inside the container.
        remote_message: ``str(exc)`` inside the container.
        remote_traceback: the formatted traceback inside the container.
    """

    def __init__(self, message: str, *, plugin: str | None = None, remote_type: str = "",
                 remote_message: str = "", remote_traceback: str = "", hint: str | None = None):
        self.remote_type = remote_type
        self.remote_message = remote_message
        self.remote_traceback = remote_traceback
        super().__init__(message, plugin=plugin, hint=hint)


class PluginCancelledError(PluginCallError):
    """The call ended because it was cancelled."""


class WorkerCrashedError(PluginError):
    """The container died while serving a call.

    Attributes:
        exit_code: the container's exit code, when known.
        oom_killed: True when the engine reports the kernel OOM killer stopped it.
        log_tail: the last lines the worker printed.
    """

    def __init__(self, message: str, *, plugin: str | None = None, exit_code: int | None = None,
                 oom_killed: bool = False, log_tail: str = "", hint: str | None = None):
        self.exit_code = exit_code
        self.oom_killed = oom_killed
        self.log_tail = log_tail
        super().__init__(message, plugin=plugin, hint=hint)


class WorkerUnreachable(PluginError):
    """The connection to the worker failed or broke (the caller checks whether it died)."""


class WorkerConnectError(WorkerUnreachable):
    """No connection could be opened: the request never reached the worker.

    Any call, ``execute`` included, may be retried elsewhere after this one (attach mode does).
    """


class WorkerTimeoutError(PluginError, TimeoutError):
    """A call to the worker exceeded its timeout (also a ``TimeoutError``)."""


class ProtocolError(PluginError):
    """The worker answered outside the protocol (wrong version, malformed frame)."""


class AnswerTooLargeError(ProtocolError):
    """The worker's answer (a result, or one stream frame) is over ``docker.max_answer_mb``.

    The answer is never read into memory: large data belongs in a file (a FileBackedDTO).
    """


class ArgumentError(PluginError, ValueError):
    """An argument cannot be carried to the container: nested too deeply, a dict key that is
    not a string or number, or a type JSON cannot hold. Nothing was sent."""


class PathNotVisibleError(PluginError):
    """A path argument lies outside every folder mounted into the container."""


class EncodingError(CjmDockerError):
    """A value cannot be carried as JSON under the rules of ``cjm_docker.codec``.

    Raised in the worker for a result (it reaches the caller as ``PluginCallError``); on the
    host an argument becomes ``ArgumentError`` and a journaled job is kept unjournaled.

    Attributes:
        path: where the value sits, e.g. ``result['items'][2]``.
        type_name: the offending value's type ("" when the problem is not a type).
    """

    def __init__(self, message: str, *, path: str = "", type_name: str = ""):
        self.path = path
        self.type_name = type_name
        super().__init__(message)


class SchedulingError(CjmDockerError):
    """The scheduler refused a call (``reason`` says why)."""

    def __init__(self, message: str, *, plugin: str | None = None, reason: str = "",
                 hint: str | None = None):
        self.reason = reason
        super().__init__(message, plugin=plugin, hint=hint)


class GpuUnavailableError(SchedulingError):
    """A plugin needs a GPU this engine cannot give it (no NVIDIA runtime, too few GPUs, or
    none large enough) and its spec does not allow running on the CPU."""


class QueueError(CjmDockerError):
    """The job queue refused a request, or its journal failed."""


class UnknownJobError(QueueError, ValueError):
    """No job has this id, in memory or in the journal.

    Also a ``ValueError``, which is what cjm-plugin-system 0.0.x raised for an unknown job.
    """

    def __init__(self, job_id: str, *, hint: str | None = None):
        self.job_id = job_id
        super().__init__(f"Unknown job: {job_id}", hint=hint)


class JobWaitTimeoutError(QueueError, TimeoutError):
    """``wait_for_job`` gave up before the job ended (the job itself goes on).

    Also a ``TimeoutError``, which is what cjm-plugin-system 0.0.x raised.
    """

    def __init__(self, job_id: str, timeout: float | None):
        self.job_id = job_id
        self.timeout = timeout
        super().__init__(f"Timeout waiting for job {job_id} ({timeout} s).")


class JobInterruptedError(QueueError):
    """The host stopped while the job ran, and the job was not run again.

    Never raised: its name is recorded as the job's ``error_type`` on resume, so a caller can
    tell an interrupted job from one whose plugin failed.
    """


class JournalError(QueueError):
    """The job journal cannot be opened, is used by another live queue, or failed a write.

    Attributes:
        path: the journal file.
    """

    def __init__(self, message: str, *, path: str = "", hint: str | None = None):
        self.path = path
        super().__init__(message, hint=hint)


class JournalRowError(QueueError):
    """A journaled job's arguments cannot be read back (corrupt or foreign JSON)."""
