"""The one module that talks to Docker.

Everything else speaks in the small dataclasses of ``engine_types`` (``ContainerSpec``,
``ContainerState``, ``BuildEvent``), sees the engine as the ``ContainerEngine`` protocol, and
gets ``cjm_docker.errors`` exceptions: docker SDK and requests exceptions are translated here,
at one choke point (``_translated``), and re-raised ``from`` the original.
The low-level ``APIClient`` is used directly because the high-level models add an inspect round
trip to almost every call, and start-up latency is a feature.
"""

from __future__ import annotations

import io
import json
import logging
import re
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any

import docker
import docker.errors
import docker.tls
import requests.exceptions
from docker.types import DeviceRequest, LogConfig, Mount

from cjm_docker import labels as labels_ns
from cjm_docker.engine_endpoint import EngineEndpoint, resolve_endpoint
from cjm_docker.engine_types import (  # re-exported: callers import them from here too
    BindMount,
    BuildEvent,
    ContainerEngine,
    ContainerSpec,
    ContainerState,
    ServiceTask,
    split_reference,
)
from cjm_docker.errors import (
    BuildError,
    CjmDockerError,
    EngineError,
    EngineUnavailableError,
    ImageError,
)

if TYPE_CHECKING:
    from cjm_docker.gpu_access import GpuRequest

__all__ = ["BindMount", "BuildEvent", "ContainerEngine", "ContainerSpec", "ContainerState",
           "Engine", "ServiceTask", "split_reference"]

BUILD_LOG_TAIL_LINES = 30
_STEP_RE = re.compile(r"^Step \d+/\d+ : ")
_ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# The classic builder's own bookkeeping lines: not the failing step's output.
log = logging.getLogger(__name__)
#: How long an interrupted create or start waits for the engine to finish making the container
#: so that it can be removed (past that, its labels leave it to `cjm-ctl gc`).
_INTERRUPTED_CREATE_S = 3.0
_NOISE_RE = re.compile(r"^\s*(---> |Removing intermediate container )")


def _explain(exc: Exception) -> str:
    if isinstance(exc, docker.errors.APIError):
        return str(exc.explanation or exc)
    return str(exc)


def _is_read_timeout(exc: Exception) -> bool:
    """A read that ran out of time. docker-py surfaces it as ``ReadTimeout`` or, on some
    paths, as a ``ConnectionError`` wrapping urllib3's ``ReadTimeoutError`` (docker-py#1966)."""
    return isinstance(exc, requests.exceptions.ReadTimeout) or (
        isinstance(exc, requests.exceptions.ConnectionError) and "Read timed out" in str(exc))


class _Outcome:
    """What ``_translated`` swallowed: the status that meant "absent" (None: nothing)."""

    __slots__ = ("status",)

    def __init__(self) -> None:
        self.status: int | None = None


@contextmanager
def _translated(what: str, *, absent: tuple[int, ...] = (), waiting: bool = False,
                error: Callable[..., CjmDockerError] = EngineError,
                hint: str | None = None,
                image_missing: CjmDockerError | None = None) -> Iterator[_Outcome]:
    """The one place docker SDK and requests exceptions become ``cjm_docker`` errors.

    Args:
        what: what was attempted, the start of the message ("Cannot remove container ...").
        absent: HTTP statuses that mean "nothing there, nothing to do" (404 for a container
            that is gone): swallowed, so the code after the ``with`` block answers.
        waiting: the call waits on purpose (``wait``): its read timeout is the caller's own
            limit running out, swallowed as well.
        error: the error raised for a refusal (``EngineError``; ``ImageError`` for pulls).
        hint: what the user can do, for a refusal.
        image_missing: raised instead when the engine says the image does not exist.
    """
    outcome = _Outcome()
    try:
        yield outcome
    except CjmDockerError:
        raise
    except docker.errors.ImageNotFound as exc:
        if image_missing is not None:
            raise image_missing from exc
        if 404 in absent:
            outcome.status = 404
            return
        raise error(f"{what}: {_explain(exc)}", hint=hint) from exc
    except docker.errors.APIError as exc:
        status = exc.status_code or (404 if isinstance(exc, docker.errors.NotFound) else None)
        if status in absent:
            outcome.status = status
            return
        raise error(f"{what}: {_explain(exc)}", hint=hint) from exc
    except docker.errors.DockerException as exc:
        raise error(f"{what}: {_explain(exc)}", hint=hint) from exc
    except requests.exceptions.RequestException as exc:
        if _is_read_timeout(exc):
            if waiting:
                return
            raise EngineError(f"{what}: the Docker engine did not answer in time ({exc}).",
                              hint="Is it overloaded? Check `docker info`.") from exc
        raise EngineUnavailableError(f"{what}: lost the Docker engine ({exc}).",
                                     hint=hint or "Is dockerd still running?") from exc


def _client_for(endpoint: EngineEndpoint) -> docker.DockerClient:
    """A client for the endpoint (a context's TLS files used as the docker CLI uses them)."""
    if endpoint.from_environment:
        return docker.from_env(timeout=120)
    tls: docker.tls.TLSConfig | bool = False
    if endpoint.tls_dir is not None:
        files = {name: endpoint.tls_dir / f"{name}.pem" for name in ("ca", "cert", "key")}
        present = {name: str(path) for name, path in files.items() if path.is_file()}
        tls = docker.tls.TLSConfig(
            client_cert=(present["cert"], present["key"]) if {"cert", "key"} <= set(present) else None,
            ca_cert=present.get("ca") if endpoint.tls_verify else None,
            verify=endpoint.tls_verify and "ca" in present)
    return docker.DockerClient(base_url=endpoint.host, tls=tls, timeout=120)



def committed_labels(image_labels: dict[str, str] | None, helper_labels: dict[str, str] | None,
                     source_labels: dict[str, str] | None) -> dict[str, str]:
    """The labels a commit gives its image.

    The engine merges the committed container's own labels into the new image. The helper's
    labels name the helper (its owner process, session, role): kept, every container of the
    image would claim that owner, and `cjm-ctl gc` would take a compose service for the leftover
    of a long-gone install. So each one the new image does not set itself goes back to the
    source image's value, or is blanked ("" reads as absent wherever labels are judged).
    """
    source = source_labels or {}
    return {**{key: source.get(key, "") for key in helper_labels or {}}, **(image_labels or {})}

class Engine:
    """A connection to one Docker engine.

    Args:
        client: an existing ``docker.DockerClient``; by default the engine the docker CLI
            would use (``DOCKER_HOST``, else the active docker context, else the local socket).
    """

    def __init__(self, client: docker.DockerClient | None = None):
        if client is None:
            self.reached = resolve_endpoint()
            with _translated(f"The Docker engine at {self.reached.describe()} does not answer",
                             error=EngineUnavailableError,
                             hint="Start it (e.g. `sudo service docker start` or `dockerd &`) "
                                  "and check DOCKER_HOST, `docker context ls` and your "
                                  "permission on /var/run/docker.sock."):
                client = _client_for(self.reached)
                client.api.ping()
        else:
            self.reached = EngineEndpoint(client.api.base_url, "a client given in code")
        self.endpoint = self.reached.host   # the engine's URL (unix://, tcp://, ssh://)
        self._client = client
        self.api = client.api

    # -- engine -------------------------------------------------------------------------------

    def version(self) -> dict[str, Any]:
        """The engine's version document (``Version``, ``ApiVersion``, ...)."""
        return self._call(self.api.version)

    def info(self) -> dict[str, Any]:
        """The engine's info document (runtimes, swarm, storage driver, ...)."""
        return self._call(self.api.info)

    def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with _translated(f"The Docker engine refused {fn.__name__}"):
            return fn(*args, **kwargs)

    # -- images -------------------------------------------------------------------------------

    def _present_id(self, ref: str, plugin: str | None = None) -> str:
        """The id of an image this engine just made; an error when it is already gone (removed
        from outside between the build and this call)."""
        inspected = self.image_inspect(ref)
        if inspected is None:
            raise ImageError(f"Image {ref} was removed right after it was built; build again.",
                             plugin=plugin)
        return str(inspected["Id"])

    def image_inspect(self, ref: str) -> dict[str, Any] | None:
        """The image's inspect document, or None when it is not present."""
        with _translated(f"Cannot inspect image {ref}", absent=(404,)):
            return self.api.inspect_image(ref)
        return None

    def image_exists(self, ref: str) -> bool:
        """True when ``ref`` (a tag or an id) is present locally."""
        return self.image_inspect(ref) is not None

    def list_images(self, label: str | None = None) -> list[dict[str, Any]]:
        """Local images, optionally only those carrying ``label`` (``key`` or ``key=value``)."""
        filters = {"label": [label]} if label else None
        return self._call(self.api.images, filters=filters)

    def tag_image(self, source: str, ref: str) -> None:
        """Give ``source`` the additional name ``ref`` (``repo:tag``)."""
        repo, tag = split_reference(ref)
        self._call(self.api.tag, source, repo, tag, force=True)

    def remove_image(self, ref: str, *, force: bool = False) -> bool:
        """Remove a tag (or an image); False when it was not there."""
        with _translated(f"Cannot remove image {ref}", absent=(404,),
                         hint="A container may still use it: see `cjm-ctl ps`."):
            self.api.remove_image(ref, force=force, noprune=False)
            return True
        return False

    def pull(self, ref: str) -> None:
        """Pull ``ref``.

        Raises:
            ImageError: the registry could not be reached or has no such image.
        """
        repo, tag = split_reference(ref)
        with _translated(f"Cannot pull {ref}", error=ImageError):
            for _ in self.api.pull(repo, tag=tag, stream=True, decode=True):
                pass
        if not self.image_exists(ref):
            raise ImageError(f"Pulling {ref} finished but the image is not present.")

    def import_rootfs(self, tar_stream: IO[bytes], ref: str, changes: list[str] | None = None,
                      on_bytes: Callable[[int], None] | None = None,
                      chunk_size: int = 1 << 20) -> str:
        """Import a root filesystem tarball as image ``ref``; returns the image id.

        The tarball is streamed (chunked upload), never held in memory; ``on_bytes`` is called
        with the byte count of each chunk sent (progress).
        """
        repo, tag = split_reference(ref)

        def chunks() -> Iterator[bytes]:
            while True:
                block = tar_stream.read(chunk_size)
                if not block:
                    return
                if on_bytes:
                    on_bytes(len(block))
                yield block

        result = self._call(self.api.import_image, src=chunks(), repository=repo, tag=tag,
                            changes=changes, stream_src=True)
        status = json.loads(result.strip().splitlines()[-1]) if isinstance(result, str) else result
        image_id = status.get("status", "") if isinstance(status, dict) else ""
        if not image_id.startswith("sha256:"):
            raise ImageError(f"Importing the root filesystem as {ref} failed: {result}")
        return image_id

    def commit_image(self, image: str, ref: str | None, *, labels: dict[str, str] | None = None,
                     env: dict[str, str] | None = None, user: str | None = None,
                     message: str = "", helper_labels: dict[str, str] | None = None) -> str:
        """A new image: ``image`` plus config changes (labels, env, user), no new layer.

        Equivalent to a build of ``FROM image`` + ``LABEL``/``ENV``/``USER``, in one commit of a
        never-started container instead of one container commit per instruction (each costs
        seconds on some storage drivers). Unset fields keep the image's values.

        Args:
            ref: the tag to give it; None leaves it untagged (the caller tags it when ready).
            helper_labels: labels of the short-lived helper container (its owner, so that
                ``cjm-ctl gc`` finds it if this process dies before removing it).

        Returns:
            The new image id.
        """
        repo, tag = split_reference(ref) if ref else (None, None)
        source = self.image_inspect(image)
        if source is None:
            raise ImageError(f"Image {image} is not present.")
        config = source.get("Config") or {}
        has_command = bool(config.get("Cmd") or config.get("Entrypoint"))
        name = f"cjm-commit-{secrets.token_hex(6)}"
        try:
            created = self._call(self.api.create_container, image, name=name,
                                 command=None if has_command else ["true"],
                                 network_disabled=True, labels=dict(helper_labels or {}))
        except CjmDockerError:
            raise
        except BaseException:  # an interrupt: the engine may make it after we stopped listening
            self._remove_quietly(name, until_found=_INTERRUPTED_CREATE_S)
            raise
        try:
            # the container's own settings must not leak into the image: name the image's
            conf: dict[str, Any] = {"Labels": committed_labels(labels, helper_labels,
                                                               config.get("Labels")),
                                    "Cmd": config.get("Cmd"),
                                    "Entrypoint": config.get("Entrypoint")}
            if env:
                conf["Env"] = [f"{k}={v}" for k, v in sorted(env.items())]
            if user is not None:
                conf["User"] = user
            result = self._call(self.api.commit, created["Id"], repository=repo, tag=tag,
                                message=message or None, pause=False, conf=conf)
        finally:
            self._remove_quietly(created["Id"])
        image_id = result.get("Id", "") if isinstance(result, dict) else ""
        if image_id.startswith("sha256:") or ref is None:
            return image_id
        return self._present_id(ref)

    def commit_step(self, image: str, command: list[str], build_dir: BindMount,
                    cache: tuple[str, str], labels: dict[str, str], timeout: float, *,
                    memory_bytes: int | None = None, on_output: Callable[[str], None] | None = None,
                    plugin: str | None = None, step: str = "",
                    helper_labels: dict[str, str] | None = None) -> str:
        """One build step as the classic builder cannot do it: run ``command`` as root in a
        container of ``image`` with the bridge network, ``build_dir`` bind-mounted and the named
        volume ``cache = (name, target)`` mounted, then commit the container as one layer.

        The image's own settings (Cmd, Entrypoint, Env, User, WorkingDir) are kept, so nothing
        of the step's container reaches the image but its files and ``labels``; mounts are
        never part of a commit. The container is removed whatever happens; ``helper_labels``
        (its owner) let `cjm-ctl gc` remove one that a killed install left behind.

        Returns:
            The new image id.

        Raises:
            BuildError: the command failed or timed out, or the engine refused (the tail of the
                step's output attached).
        """
        source = self.image_inspect(image)
        if source is None:
            raise ImageError(f"Image {image} is not present.", plugin=plugin)
        config = source.get("Config") or {}
        what = f"Image build failed in the {step or 'build'} step"
        tail: deque[str] = deque(maxlen=BUILD_LOG_TAIL_LINES)

        def failed(message: str, hint: str | None = None) -> BuildError:
            return BuildError(message, plugin=plugin, step=step, log_tail="\n".join(tail),
                              hint=hint)

        name = f"cjm-step-{secrets.token_hex(6)}"
        try:
            with _translated(what, error=failed):
                host_config = self.api.create_host_config(
                    mounts=[Mount(target=build_dir.target, source=build_dir.source, type="bind",
                                  read_only=build_dir.read_only),
                            Mount(target=cache[1], source=cache[0], type="volume")],
                    network_mode="bridge", mem_limit=memory_bytes, memswap_limit=memory_bytes,
                    pids_limit=4096)
                created = self.api.create_container(
                    image, command=command, user="0:0", host_config=host_config, name=name,
                    labels={**(helper_labels or {}), labels_ns.MANAGED: "true",
                            labels_ns.ROLE: labels_ns.ROLE_BUILD})
        except CjmDockerError:
            raise
        except BaseException:  # an interrupt: the engine may make it after we stopped listening
            self._remove_quietly(name, until_found=_INTERRUPTED_CREATE_S)
            raise
        container_id = created["Id"]
        try:
            with _translated(what, error=failed):
                self.api.start(container_id)
                for chunk in self.api.logs(container_id, stream=True, follow=True):
                    for line in _ANSI_RE.sub("", chunk.decode("utf-8", "replace")).splitlines():
                        if line.strip():
                            tail.append(line)
                            if on_output:
                                on_output(line)
            code = self.wait_container(container_id, timeout=timeout)
            if code != 0:
                reason = "timed out" if code is None else f"exited with code {code}"
                raise failed(f"Image build failed: the {step or 'build'} step {reason}.")
            conf: dict[str, Any] = {"Labels": committed_labels(labels, helper_labels,
                                                               config.get("Labels")),
                                    "Cmd": config.get("Cmd"),
                                    "Entrypoint": config.get("Entrypoint"),
                                    "Env": config.get("Env") or [],
                                    "User": config.get("User") or "",
                                    "WorkingDir": config.get("WorkingDir") or ""}
            with _translated(what, error=failed):
                result = self.api.commit(container_id, message=f"cjm-docker: {step}",
                                         pause=False, conf=conf)
        finally:
            self.remove_container(container_id, force=True)
        image_id = result.get("Id", "") if isinstance(result, dict) else ""
        if not image_id.startswith("sha256:"):
            raise failed(f"Committing the {step or 'build'} step gave no image.")
        return image_id

    def ensure_volume(self, name: str, labels: dict[str, str]) -> None:
        """Create the named volume unless it exists (creating an existing one is a no-op)."""
        with _translated(f"Cannot create volume {name}"):
            self.api.create_volume(name=name, labels=labels)

    def remove_volume(self, name: str) -> bool:
        """Remove a named volume; False when it was not there."""
        with _translated(f"Cannot remove volume {name}", absent=(404,)) as outcome:
            self.api.remove_volume(name, force=True)
        return outcome.status != 404

    def find_images(self, label: str, *, dangling: bool | None = None) -> list[dict[str, Any]]:
        """Every image carrying ``label`` (``key=value``), intermediate ones included."""
        filters: dict[str, Any] = {"label": [label]}
        if dangling is not None:
            filters["dangling"] = dangling
        return self._call(self.api.images, all=True, filters=filters)

    def build(self, context: IO[bytes], *, tag: str | None = None,
              labels: dict[str, str] | None = None, buildargs: dict[str, str] | None = None,
              on_event: Callable[[BuildEvent], None] | None = None, nocache: bool = False,
              plugin: str | None = None, memory_bytes: int | None = None) -> str:
        """Build from a gzip/plain tar ``context`` (Dockerfile at its root) with the classic builder.

        ``memory_bytes`` bounds each build step's container (the classic builder takes no CPU
        quota or process limit).

        Returns:
            The new image id.

        Raises:
            BuildError: with the failing step and the tail of the log. Intermediate containers
                are removed (``forcerm``) and no tag is applied, so nothing half-built remains.
        """
        tail: deque[str] = deque(maxlen=BUILD_LOG_TAIL_LINES)
        step: str | None = None
        image_id: str | None = None
        try:
            stream = self.api.build(fileobj=context, custom_context=True, tag=tag, labels=labels,
                                    buildargs=buildargs, rm=True, forcerm=True, decode=True,
                                    nocache=nocache, pull=False, container_limits={
                                        "memory": memory_bytes, "memswap": -1}
                                    if memory_bytes else None)
            for chunk in stream:
                if "error" in chunk:
                    detail = chunk.get("errorDetail", {}).get("message") or chunk["error"]
                    raise BuildError(f"Image build failed: {detail.strip()}", plugin=plugin,
                                     step=step, log_tail="\n".join(tail))
                if "aux" in chunk and "ID" in chunk["aux"]:
                    image_id = chunk["aux"]["ID"]
                for line in _ANSI_RE.sub("", str(chunk.get("stream", ""))).splitlines():
                    if not line.strip():
                        continue
                    if _STEP_RE.match(line):
                        step = line.strip()
                        kind = "step"
                        tail.clear()  # the tail shows the output of the step that fails
                    else:
                        if not _NOISE_RE.match(line):
                            tail.append(line)
                        kind = "output"
                    if on_event:
                        on_event(BuildEvent(kind, line))
                    match = re.match(r"Successfully built ([0-9a-f]+)", line)
                    if match and image_id is None:
                        image_id = match.group(1)
                if "status" in chunk and on_event:
                    on_event(BuildEvent("status", str(chunk["status"])))
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            # The build's own translation: the step and the log so far go into the error.
            raise BuildError(f"Image build failed: {_explain(exc)}", plugin=plugin, step=step,
                             log_tail="\n".join(tail)) from exc
        if image_id is None:
            raise BuildError("Image build ended without producing an image.", plugin=plugin,
                             step=step, log_tail="\n".join(tail))
        return image_id if image_id.startswith("sha256:") else self._present_id(image_id, plugin)

    # -- containers ---------------------------------------------------------------------------

    def create_and_start(self, spec: ContainerSpec) -> str:
        """Create and start a container; returns its id. Removes it again if start fails."""
        host_config = self.api.create_host_config(
            mounts=[Mount(target=m.target, source=m.source, type="bind", read_only=m.read_only)
                    for m in spec.mounts],
            network_mode=spec.network or "none",
            port_bindings={spec.publish_port: ("127.0.0.1", None)} if spec.publish_port else None,
            mem_limit=spec.mem_limit_bytes,
            memswap_limit=spec.mem_limit_bytes,  # no swap beyond the limit: OOM is OOM
            nano_cpus=spec.nano_cpus,
            pids_limit=spec.pids_limit,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            read_only=spec.read_only_rootfs,
            tmpfs=spec.tmpfs or None,
            auto_remove=spec.auto_remove,
            init=spec.init,
            log_config=LogConfig(type="json-file", config={
                "max-size": spec.log_max_size, "max-file": str(spec.log_max_files)}),
            device_requests=_device_requests(spec.gpus),
            runtime=spec.gpus.runtime if spec.gpus is not None else None,
        )
        env = {**spec.env, **spec.gpus.env} if spec.gpus is not None else spec.env
        missing = ImageError(f"Image {spec.image} is not present.",
                             hint="Build it with `cjm-ctl install-all`.")
        try:
            with _translated(f"Cannot create container {spec.name}", image_missing=missing):
                created = self.api.create_container(
                    spec.image, command=spec.command, name=spec.name, labels=spec.labels,
                    environment=env, user=spec.user, host_config=host_config,
                    ports=[spec.publish_port] if spec.publish_port else None,
                    network_disabled=spec.network is None, stop_timeout=spec.stop_timeout,
                )
        except CjmDockerError:
            raise
        except BaseException:  # Ctrl-C: the engine may make it after we stopped listening
            self._remove_quietly(spec.name, until_found=_INTERRUPTED_CREATE_S)
            raise
        container_id = created["Id"]
        try:
            with _translated(f"Cannot start container {spec.name}"):
                self.api.start(container_id)
        except CjmDockerError:
            self.remove_container(container_id, force=True)
            raise
        except BaseException:
            self._remove_quietly(container_id, until_found=_INTERRUPTED_CREATE_S)
            raise
        return container_id

    def _remove_quietly(self, container: str, *, until_found: float = 0.0) -> None:
        """Remove a container on the way out of an error or an interrupt (best effort: the
        first error stays the one reported; what is left carries labels for `cjm-ctl gc`).

        ``until_found``: seconds to keep trying while it does not exist yet: after an
        interrupted create the engine may still be making it.
        """
        deadline = time.monotonic() + until_found
        while True:
            try:
                if self.remove_container(container, force=True):
                    return
            except Exception:  # noqa: BLE001 - cleanup must not mask the original failure
                log.debug("could not remove container %s", container, exc_info=True)
            if time.monotonic() >= deadline:
                return
            time.sleep(0.1)

    def container_state(self, container_id: str) -> ContainerState | None:
        """The container's state, or None when it no longer exists."""
        with _translated(f"Cannot inspect container {container_id[:12]}", absent=(404,)):
            return _state_from_inspect(self.api.inspect_container(container_id))
        return None

    def list_containers(self, labels: dict[str, str] | None = None, *,
                        all: bool = True) -> list[ContainerState]:
        """Containers carrying every given label (``value`` "" means: the key only)."""
        selectors = [k if v == "" else f"{k}={v}" for k, v in (labels or {}).items()]
        rows = self._call(self.api.containers, all=all, filters={"label": selectors})
        return [ContainerState(
            id=row["Id"], name=(row.get("Names") or ["/?"])[0].lstrip("/"),
            status=row.get("State", ""), running=row.get("State") == "running", exit_code=None,
            oom_killed=False, labels=row.get("Labels") or {}, image=row.get("Image", ""),
            host_port=next((p.get("PublicPort") for p in row.get("Ports") or [] if p.get("PublicPort")), None),
        ) for row in rows]

    def stop_container(self, container_id: str, timeout: float = 5) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; a missing container is fine."""
        # 304: already stopped; 409: being removed.
        with _translated(f"Cannot stop container {container_id[:12]}", absent=(404, 304, 409)):
            self.api.stop(container_id, timeout=int(max(0, timeout)))

    def kill_container(self, container_id: str, signal: str = "SIGKILL") -> None:
        """Send ``signal`` at once; a missing or stopped container is fine."""
        with _translated(f"Cannot kill container {container_id[:12]}", absent=(404, 409)):
            self.api.kill(container_id, signal=signal)

    def remove_container(self, container_id: str, *, force: bool = True) -> bool:
        """Remove a container (killing it when ``force``); False when it was already gone."""
        # A forced removal hears 409 only when a removal (an auto-remove) is under way.
        with _translated(f"Cannot remove container {container_id[:12]}",
                         absent=(404, 409) if force else (404,)) as outcome:
            self.api.remove_container(container_id, force=force, v=True)
            return True
        return outcome.status == 409 and self._wait_removed(container_id)

    def _wait_removed(self, container_id: str, timeout: float = 15) -> bool:
        """Wait for a removal under way; True when the container was still there."""
        with _translated(f"Container {container_id[:12]} is not going away", absent=(404,),
                         waiting=True):
            self.api.wait(container_id, timeout=timeout, condition="removed")
            return True
        return False

    def wait_container(self, container_id: str, timeout: float | None = None) -> int | None:
        """Block until the container exits; its exit code (None when it vanished or
        ``timeout`` ran out)."""
        with _translated(f"Cannot wait for container {container_id[:12]}", absent=(404,),
                         waiting=True):
            return int(self.api.wait(container_id, timeout=timeout)["StatusCode"])
        return None

    def container_logs(self, container_id: str, *, tail: int | str = "all") -> str:
        """The container's stdout and stderr so far ("" when it is gone)."""
        with _translated(f"Cannot read logs of {container_id[:12]}", absent=(404,)):
            return self.api.logs(container_id, stdout=True, stderr=True,
                                 tail=tail).decode("utf-8", "replace")
        return ""

    def follow_logs(self, container_id: str, *, tail: int | str = 50) -> Iterator[str]:
        """Yield log text as the container writes it, until it stops (or is gone)."""
        with _translated(f"Cannot follow logs of {container_id[:12]}", absent=(404,)):
            for chunk in self.api.logs(container_id, stream=True, follow=True, tail=tail):
                yield chunk.decode("utf-8", "replace")

    def container_stats(self, container_id: str) -> dict[str, Any] | None:
        """One stats sample without the engine's two-second priming wait (None when gone)."""
        with _translated(f"Cannot read stats of {container_id[:12]}", absent=(404,)):
            return self.api.stats(container_id, stream=False, one_shot=True)
        return None

    def container_events(self, labels: dict[str, str]) -> Iterator[dict[str, Any]]:
        """Subscribe now to die/oom events of containers carrying ``labels``; iterate to read.

        The subscription is made before this returns, so no event after the call is missed.
        Closing the returned iterator ends the subscription.
        """
        stream = self._call(self.api.events, decode=True, filters={
            "type": "container", "event": ["die", "oom"],
            "label": [f"{k}={v}" for k, v in labels.items()]})
        return _closing_events(stream)

    def run_once(self, spec: ContainerSpec, timeout: float = 300) -> tuple[int, str, str]:
        """Run a container to completion; returns (exit code, stdout, stderr) and removes it."""
        container_id = self.create_and_start(spec)
        try:
            code = self.wait_container(container_id, timeout=timeout)
            if code is None:
                self.kill_container(container_id)
                code = -1
            with _translated(f"Cannot read the output of {spec.name}"):
                out = self.api.logs(container_id, stdout=True, stderr=False)
                err = self.api.logs(container_id, stdout=False, stderr=True)
            return code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
        finally:
            self.remove_container(container_id, force=True)

    def put_file(self, container_id: str, folder: str, tar_bytes: bytes) -> None:
        """Extract a tar archive into ``folder`` of a container."""
        self._call(self.api.put_archive, container_id, folder, io.BytesIO(tar_bytes).getvalue())


    # -- swarm (read-only: stacks are deployed by the docker CLI) -----------------------------

    def local_node_id(self) -> str | None:
        """This engine's Swarm node id, or None when it is not part of an active swarm."""
        swarm = self.info().get("Swarm") or {}
        if swarm.get("LocalNodeState") != "active":
            return None
        return swarm.get("NodeID") or None

    def service_tasks(self, service: str) -> list[ServiceTask]:
        """The tasks of a Swarm service (by name or id), newest state of each.

        Raises:
            EngineError: no such service, or this engine is not a swarm manager.
        """
        spec = self._call(self.api.inspect_service, service)
        rows = self._call(self.api.tasks, filters={"service": spec["ID"]})
        return [_task_from_doc(row) for row in rows if row.get("ServiceID") == spec["ID"]]

    def node_address(self, node_id: str) -> str | None:
        """The address a Swarm node advertises (where its host-mode ports listen)."""
        doc = self._call(self.api.inspect_node, node_id)
        return ((doc.get("Status") or {}).get("Addr") or None) if doc else None

    def network_addresses(self, network: str) -> dict[str, str]:
        """IPv4 address of each container on a local network, by container id ({} when absent)."""
        doc: dict[str, Any] = {}
        with _translated(f"Cannot inspect network {network}", absent=(404,)):
            doc = self.api.inspect_network(network)
        return {cid: (entry.get("IPv4Address") or "").split("/")[0]
                for cid, entry in (doc.get("Containers") or {}).items()
                if entry.get("IPv4Address")}


def _device_requests(gpus: GpuRequest | None) -> list[DeviceRequest] | None:
    """``--gpus device=...`` (driver nvidia) or ``--device nvidia.com/gpu=...`` (driver cdi);
    None when the GPUs go by runtime + environment, or there are none."""
    if gpus is None or gpus.driver is None:
        return None
    # the engine's CDI driver ignores capabilities; the nvidia driver is chosen by "gpu"
    capabilities = [["gpu"]] if gpus.driver == "nvidia" else None
    return [DeviceRequest(driver=gpus.driver, device_ids=list(gpus.device_ids),
                          capabilities=capabilities)]


def _state_from_inspect(doc: dict[str, Any]) -> ContainerState:
    state = doc.get("State") or {}
    ports = (doc.get("NetworkSettings") or {}).get("Ports") or {}
    host_port = None
    for bindings in ports.values():
        for binding in bindings or []:
            if binding.get("HostPort"):
                host_port = int(binding["HostPort"])
    return ContainerState(
        id=doc["Id"], name=doc.get("Name", "").lstrip("/"), status=state.get("Status", ""),
        running=bool(state.get("Running")),
        exit_code=state.get("ExitCode") if state.get("Status") in ("exited", "dead") else None,
        oom_killed=bool(state.get("OOMKilled")), labels=(doc.get("Config") or {}).get("Labels") or {},
        image=(doc.get("Config") or {}).get("Image", ""), host_port=host_port,
        started_at=state.get("StartedAt", ""),
    )


def _task_from_doc(doc: dict[str, Any]) -> ServiceTask:
    status = doc.get("Status") or {}
    ports = (status.get("PortStatus") or {}).get("Ports") or []
    container = status.get("ContainerStatus") or {}
    return ServiceTask(
        id=doc["ID"], slot=doc.get("Slot"), node_id=doc.get("NodeID", ""),
        state=status.get("State", ""), desired_state=doc.get("DesiredState", ""),
        container_id=container.get("ContainerID", ""),
        host_ports={int(p["TargetPort"]): int(p["PublishedPort"]) for p in ports
                    if p.get("PublishMode") == "host" and p.get("PublishedPort")},
        message=status.get("Err") or status.get("Message", ""),
        exit_code=container.get("ExitCode"),
    )


def _closing_events(stream: Any) -> Iterator[dict[str, Any]]:
    """Events until the subscription ends; a broken subscription ends it too (the exit
    recorder resubscribes), so nothing foreign escapes to the reader."""
    try:
        with _translated("The engine's event stream broke", absent=tuple(range(400, 600)),
                         waiting=True):
            yield from stream
    except CjmDockerError:
        return
    finally:
        stream.close()
