"""Images made by committing a helper container: config-only images and run-and-commit steps.

A commit does what the classic builder cannot: one commit for a set of config changes instead
of one container per instruction, and a step that runs with a named cache volume mounted.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from cjm_docker import labels as labels_ns
from cjm_docker.engine.builds import BuildLog
from cjm_docker.engine.containers import ContainerCalls
from cjm_docker.engine.images import ImageCalls
from cjm_docker.engine.sdk import LogConfig, Mount
from cjm_docker.engine.translation import translated
from cjm_docker.engine_types import BindMount, HelperLimits, split_reference
from cjm_docker.errors import BuildError, ImageError


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


class CommitCalls(ImageCalls, ContainerCalls):
    """The engine's commits (the helper container is removed whatever happens)."""

    def _source_config(self, image: str, plugin: str | None = None) -> dict[str, Any]:
        source = self.image_inspect(image)
        if source is None:
            raise ImageError(f"Image {image} is not present.", plugin=plugin)
        return source.get("Config") or {}

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
        config = self._source_config(image)
        has_command = bool(config.get("Cmd") or config.get("Entrypoint"))
        name = f"cjm-commit-{secrets.token_hex(6)}"
        container_id = self._created(name, lambda: self._call(
            self.api.create_container, image, name=name,
            command=None if has_command else ["true"], network_disabled=True,
            labels=dict(helper_labels or {})))
        try:
            # the container's own settings must not leak into the image: name the image's
            conf = _kept_config(config, committed_labels(labels, helper_labels,
                                                         config.get("Labels")))
            if env:
                conf["Env"] = [f"{k}={v}" for k, v in sorted(env.items())]
            if user is not None:
                conf["User"] = user
            result = self._call(self.api.commit, container_id, repository=repo, tag=tag,
                                message=message or None, pause=False, conf=conf)
        finally:
            self._remove_quietly(container_id)
        image_id = result.get("Id", "") if isinstance(result, dict) else ""
        if image_id.startswith("sha256:") or ref is None:
            return image_id
        return self._present_id(ref)

    def commit_step(self, image: str, command: list[str], build_dir: BindMount,
                    cache: tuple[str, str], labels: dict[str, str], timeout: float, *,
                    limits: HelperLimits | None = None, on_output: Callable[[str], None] | None = None,
                    plugin: str | None = None, step: str = "",
                    helper_labels: dict[str, str] | None = None,
                    on_status: Callable[[str], None] | None = None,
                    remove: Callable[[str], None] | None = None) -> str:
        """One build step as the classic builder cannot do it: run ``command`` as root in a
        container of ``image`` with the bridge network, ``build_dir`` bind-mounted and the named
        volume ``cache = (name, target)`` mounted, then commit the container as one layer. The
        container runs under ``limits`` (memory, CPU, processes, log size; the defaults when none).

        The image's own settings (Cmd, Entrypoint, Env, User, WorkingDir) are kept, so nothing
        of the step's container reaches the image but its files and ``labels``; mounts are
        never part of a commit. The container is removed whatever happens, by ``remove`` when
        given (a caller that removes it in the background: deleting a large step's files takes
        seconds the image does not wait for); ``helper_labels`` (its owner) let `cjm-ctl gc`
        remove one that a killed install left behind. ``on_status`` hears each phase begin
        (``running``, ``committing``).

        Returns:
            The new image id.

        Raises:
            BuildError: the command failed or timed out, or the engine refused (the tail of the
                step's output attached).
        """
        config = self._source_config(image, plugin)
        bounds = limits or HelperLimits()
        what = f"Image build failed in the {step or 'build'} step"
        log = BuildLog()

        def failed(message: str, hint: str | None = None) -> BuildError:
            return BuildError(message, plugin=plugin, step=step, log_tail=log.text(), hint=hint)

        def create() -> dict[str, Any]:
            with translated(what, error=failed):
                host_config = self.api.create_host_config(
                    mounts=[Mount(target=build_dir.target, source=build_dir.source, type="bind",
                                  read_only=build_dir.read_only),
                            Mount(target=cache[1], source=cache[0], type="volume")],
                    network_mode="bridge", mem_limit=bounds.memory_bytes,
                    memswap_limit=bounds.memory_bytes, nano_cpus=bounds.nano_cpus,
                    pids_limit=bounds.pids, log_config=LogConfig(type="json-file", config={
                        "max-size": bounds.log_max_size, "max-file": str(bounds.log_max_files)}))
                return self.api.create_container(
                    image, command=command, user="0:0", host_config=host_config, name=name,
                    labels={**(helper_labels or {}), labels_ns.MANAGED: "true",
                            labels_ns.ROLE: labels_ns.ROLE_BUILD})

        name = f"cjm-step-{secrets.token_hex(6)}"
        container_id = self._created(name, create)
        status = on_status or (lambda phase: None)
        try:
            status("running")
            with translated(what, error=failed):
                self.api.start(container_id)
                for chunk in self.api.logs(container_id, stream=True, follow=True):
                    for line in log.lines(chunk.decode("utf-8", "replace")):
                        log.tail.append(line)
                        if on_output:
                            on_output(line)
            code = self.wait_container(container_id, timeout=timeout)
            if code != 0:
                reason = "timed out" if code is None else f"exited with code {code}"
                raise failed(f"Image build failed: the {step or 'build'} step {reason}.")
            conf = _kept_config(config, committed_labels(labels, helper_labels,
                                                         config.get("Labels")),
                                "Env", "User", "WorkingDir")
            status("committing")
            with translated(what, error=failed):
                result = self.api.commit(container_id, message=f"cjm-docker: {step}",
                                         pause=False, conf=conf)
        finally:
            if remove is not None:
                remove(container_id)
            else:
                self.remove_container(container_id, force=True)
        image_id = result.get("Id", "") if isinstance(result, dict) else ""
        if not image_id.startswith("sha256:"):
            raise failed(f"Committing the {step or 'build'} step gave no image.")
        return image_id


_EMPTY_WHEN_UNSET: dict[str, Any] = {"Env": [], "User": "", "WorkingDir": ""}


def _kept_config(config: dict[str, Any], labels: dict[str, str], *keys: str) -> dict[str, Any]:
    """The commit's config: the source image's command (and ``keys``) with ``labels``, so that
    the helper container's own settings never reach the image."""
    conf: dict[str, Any] = {"Labels": labels, "Cmd": config.get("Cmd"),
                            "Entrypoint": config.get("Entrypoint")}
    conf.update({key: config.get(key) or _EMPTY_WHEN_UNSET[key] for key in keys})
    return conf
