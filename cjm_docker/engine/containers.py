"""Container lifecycle: create with secure defaults, start, inspect, list, stop, remove."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cjm_docker.engine.connection import Connection
from cjm_docker.engine.documents import state_from_inspect, state_from_listing
from cjm_docker.engine.sdk import DeviceRequest, LogConfig, Mount
from cjm_docker.engine.translation import translated
from cjm_docker.engine_types import ContainerSpec, ContainerState
from cjm_docker.errors import CjmDockerError, ImageError

if TYPE_CHECKING:
    from cjm_docker.gpu_access import GpuRequest

log = logging.getLogger(__name__)

#: How long an interrupted create or start waits for the engine to finish making the container
#: so that it can be removed (past that, its labels leave it to `cjm-ctl gc`).
INTERRUPTED_CREATE_S = 3.0


class ContainerCalls(Connection):
    """The engine's container calls (every error a ``cjm_docker`` error)."""

    def create_and_start(self, spec: ContainerSpec) -> str:
        """Create and start a container; returns its id. Removes it again if start fails."""
        env = {**spec.env, **spec.gpus.env} if spec.gpus is not None else spec.env
        missing = ImageError(f"Image {spec.image} is not present.",
                             hint="Build it with `cjm-ctl install-all`.")

        def create() -> dict[str, Any]:
            with translated(f"Cannot create container {spec.name}", image_missing=missing):
                return self.api.create_container(
                    spec.image, command=spec.command, name=spec.name, labels=spec.labels,
                    environment=env, user=spec.user, host_config=self._host_config(spec),
                    ports=[spec.publish_port] if spec.publish_port else None,
                    network_disabled=spec.network is None, stop_timeout=spec.stop_timeout,
                )

        container_id = self._created(spec.name, create)
        try:
            with translated(f"Cannot start container {spec.name}"):
                self.api.start(container_id)
        except CjmDockerError:
            self.remove_container(container_id, force=True)
            raise
        except BaseException:
            self._remove_quietly(container_id, until_found=INTERRUPTED_CREATE_S)
            raise
        return container_id

    def _host_config(self, spec: ContainerSpec) -> dict[str, Any]:
        """The spec's limits and mounts, with every privilege dropped."""
        return self.api.create_host_config(
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

    def _created(self, name: str, create: Callable[[], dict[str, Any]]) -> str:
        """The id of the container ``create`` makes under ``name``. On an interrupt (Ctrl-C)
        the engine may make it after we stopped listening: it is looked for and removed."""
        try:
            return str(create()["Id"])
        except CjmDockerError:
            raise
        except BaseException:
            self._remove_quietly(name, until_found=INTERRUPTED_CREATE_S)
            raise

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
        with translated(f"Cannot inspect container {container_id[:12]}", absent=(404,)):
            return state_from_inspect(self.api.inspect_container(container_id))
        return None

    def list_containers(self, labels: dict[str, str] | None = None, *,
                        all: bool = True) -> list[ContainerState]:
        """Containers carrying every given label (``value`` "" means: the key only)."""
        selectors = [k if v == "" else f"{k}={v}" for k, v in (labels or {}).items()]
        rows = self._call(self.api.containers, all=all, filters={"label": selectors})
        return [state_from_listing(row) for row in rows]

    def stop_container(self, container_id: str, timeout: float = 5) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; a missing container is fine."""
        # 304: already stopped; 409: being removed.
        with translated(f"Cannot stop container {container_id[:12]}", absent=(404, 304, 409)):
            self.api.stop(container_id, timeout=int(max(0, timeout)))

    def kill_container(self, container_id: str, signal: str = "SIGKILL") -> None:
        """Send ``signal`` at once; a missing or stopped container is fine."""
        with translated(f"Cannot kill container {container_id[:12]}", absent=(404, 409)):
            self.api.kill(container_id, signal=signal)

    def remove_container(self, container_id: str, *, force: bool = True) -> bool:
        """Remove a container (killing it when ``force``); False when it was already gone."""
        # A forced removal hears 409 only when a removal (an auto-remove) is under way.
        with translated(f"Cannot remove container {container_id[:12]}",
                        absent=(404, 409) if force else (404,)) as outcome:
            self.api.remove_container(container_id, force=force, v=True)
            return True
        return outcome.status == 409 and self._wait_removed(container_id)

    def _wait_removed(self, container_id: str, timeout: float = 15) -> bool:
        """Wait for a removal under way; True when the container was still there."""
        with translated(f"Container {container_id[:12]} is not going away", absent=(404,),
                        waiting=True):
            self.api.wait(container_id, timeout=timeout, condition="removed")
            return True
        return False

    def wait_container(self, container_id: str, timeout: float | None = None) -> int | None:
        """Block until the container exits; its exit code (None when it vanished or
        ``timeout`` ran out)."""
        with translated(f"Cannot wait for container {container_id[:12]}", absent=(404,),
                        waiting=True):
            return int(self.api.wait(container_id, timeout=timeout)["StatusCode"])
        return None

    def run_once(self, spec: ContainerSpec, timeout: float = 300) -> tuple[int, str, str]:
        """Run a container to completion; returns (exit code, stdout, stderr) and removes it."""
        container_id = self.create_and_start(spec)
        try:
            code = self.wait_container(container_id, timeout=timeout)
            if code is None:
                self.kill_container(container_id)
                code = -1
            with translated(f"Cannot read the output of {spec.name}"):
                out = self.api.logs(container_id, stdout=True, stderr=False)
                err = self.api.logs(container_id, stdout=False, stderr=True)
            return code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
        finally:
            self.remove_container(container_id, force=True)

    def put_file(self, container_id: str, folder: str, tar_bytes: bytes) -> None:
        """Extract a tar archive into ``folder`` of a container."""
        self._call(self.api.put_archive, container_id, folder, io.BytesIO(tar_bytes).getvalue())


def _device_requests(gpus: GpuRequest | None) -> list[DeviceRequest] | None:
    """``--gpus device=...`` (driver nvidia) or ``--device nvidia.com/gpu=...`` (driver cdi);
    None when the GPUs go by runtime + environment, or there are none."""
    if gpus is None or gpus.driver is None:
        return None
    # the engine's CDI driver ignores capabilities; the nvidia driver is chosen by "gpu"
    capabilities = [["gpu"]] if gpus.driver == "nvidia" else None
    return [DeviceRequest(driver=gpus.driver, device_ids=list(gpus.device_ids),
                          capabilities=capabilities)]
