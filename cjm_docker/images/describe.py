"""Describe a freshly built image: run it once to introspect its plugin, make the manifest.

The introspection container sees what a worker sees (the non-root user, ``CJM_DATA_DIR`` at the
same absolute path as on the host, ``CJM_MODELS_DIR`` when configured, the plugin's env) and no
network. Its
``CJM_DATA_DIR`` is a tmpfs: the manifest name, and so the plugin's own data folder, is only
known from the answer, and a failed install must leave nothing behind.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cjm_docker import envvars, labels
from cjm_docker._version import __version__
from cjm_docker.config import CjmConfig
from cjm_docker.engine import BindMount, ContainerSpec, Engine
from cjm_docker.engine_types import HelperLimits
from cjm_docker.errors import IntrospectionError, ManifestError
from cjm_docker.images.introspect import BEGIN, END
from cjm_docker.images.render import HOME, USER_ID
from cjm_docker.manifest import Manifest, parse_manifest
from cjm_docker.spec.resolve import PluginSpec

if TYPE_CHECKING:
    from cjm_docker.images.prepare import PreparedBuild

INTROSPECT_TIMEOUT_S = 300.0
OUTPUT_TAIL_CHARS = 4000


def image_variables(spec: PluginSpec) -> dict[str, str]:
    """The environment spec's ``variables``: settings of the image (the final stage sets them)."""
    return dict(spec.environment.variables) if spec.environment else {}


def helper_limits(spec: PluginSpec, config: CjmConfig) -> HelperLimits:
    """A helper container's limits (introspection, build steps): the plugin's ``resources:``,
    else cjm.yaml's ``docker.limits``."""
    wanted, limits = spec.runtime.resources, config.docker.limits
    return HelperLimits(memory_bytes=wanted.memory_bytes or limits.memory_bytes,
                        nano_cpus=wanted.nano_cpus or limits.nano_cpus,
                        pids=wanted.pids or limits.pids, log_max_size=limits.log_max_size,
                        log_max_files=limits.log_max_files)


def introspection_container(image_id: str, spec: PluginSpec, python_path: str,
                            config: CjmConfig, owner: dict[str, str] | None = None) -> ContainerSpec:
    """The one-off container that runs ``cjm_docker.images.introspect`` in the image.

    ``owner``: the installing process's labels (host, pid, start, session), so that
    ``cjm-ctl gc`` removes the container if that process dies before it does.
    """
    data_root = str(config.plugin_data_dir)
    limits = helper_limits(spec, config)
    env = image_variables(spec) | dict(spec.runtime.env) | {envvars.PLUGIN_DATA_ROOT: data_root,
                                                             "HOME": HOME}
    mounts: tuple[BindMount, ...] = ()
    if config.models_dir is not None and config.models_dir.is_dir():
        env[envvars.PLUGIN_MODELS_DIR] = str(config.models_dir)
        mounts = (BindMount(str(config.models_dir), str(config.models_dir), read_only=True),)
    return ContainerSpec(
        image=image_id, name=f"cjm-introspect-{spec.repository}-{secrets.token_hex(4)}",
        command=[python_path, "-m", "cjm_docker.images.introspect", spec.import_name],
        labels={labels.MANAGED: "true", labels.ROLE: labels.ROLE_INTROSPECT,
                labels.PLUGIN: spec.name, labels.VERSION: __version__, **(owner or {})},
        env=env, mounts=mounts, network=None, tmpfs={data_root: "rw,mode=1777"},
        user=f"{USER_ID}:{USER_ID}",
        mem_limit_bytes=limits.memory_bytes, nano_cpus=limits.nano_cpus, pids_limit=limits.pids,
        log_max_size=limits.log_max_size, log_max_files=limits.log_max_files,
    )


def _tail(text: str) -> str:
    text = text.strip()
    return text if len(text) <= OUTPUT_TAIL_CHARS else "..." + text[-OUTPUT_TAIL_CHARS:]


def introspect(engine: Engine, image_id: str, spec: PluginSpec, python_path: str,
               config: CjmConfig, owner: dict[str, str] | None = None) -> dict[str, Any]:
    """Run the image once and return the plugin's metadata dict.

    Raises:
        IntrospectionError: the script failed or printed no manifest (its output attached).
    """
    container = introspection_container(image_id, spec, python_path, config, owner)
    code, out, err = engine.run_once(container, timeout=INTROSPECT_TIMEOUT_S)
    output = _tail("\n".join(part for part in (err, out) if part.strip()))
    if code != 0:
        reason = "timed out" if code == -1 else f"exited with code {code}"
        raise IntrospectionError(
            f"Introspecting plugin '{spec.name}' failed: `{spec.import_name}.meta."
            f"get_plugin_metadata()` in the built image {reason}.", plugin=spec.name,
            output=output, hint="Check the package's meta.py (or set import_name in plugins.yaml).")
    try:
        payload = out.split(BEGIN, 1)[1].split(END, 1)[0]
        meta = json.loads(payload)
    except (IndexError, json.JSONDecodeError) as exc:
        raise IntrospectionError(f"Introspecting plugin '{spec.name}' printed no manifest.",
                                 plugin=spec.name, output=output) from exc
    if not isinstance(meta, dict):
        raise IntrospectionError(f"Plugin '{spec.name}' described itself as "
                                 f"{type(meta).__name__}, not a mapping.", plugin=spec.name)
    return meta


def make_manifest(meta: dict[str, Any], spec: PluginSpec, prepared: PreparedBuild, *, tag: str,
                  image_id: str = "") -> Manifest:
    """The plugin's metadata kept whole, plus what cjm-docker adds.

    Raises:
        IntrospectionError: the metadata lacks what a manifest needs (name, module, class).
    """
    data = dict(meta)
    if isinstance(data.get("env_vars"), dict):
        data["env_vars"] = {str(k): str(v) for k, v in data["env_vars"].items()}
    data.update(image=tag, image_id=image_id, spec_name=spec.name,
                spec_file=str(Path(spec.source).resolve()),
                runtime=spec.runtime.model_dump(mode="json"), cjm_docker_version=__version__,
                python_path=prepared.python_path, lock=list(prepared.lock_pins),
                shared_images=list(prepared.shared_images))
    try:
        return parse_manifest(data, source=f"from introspecting '{spec.name}'")
    except ManifestError as exc:
        raise IntrospectionError(f"Plugin '{spec.name}' described itself incompletely: "
                                 f"{exc.message}", plugin=spec.name,
                                 output=json.dumps(meta, indent=2, default=str)[:OUTPUT_TAIL_CHARS]) from exc


def finish_image(engine: Engine, image_id: str, manifest: Manifest, spec: PluginSpec, *,
                 content_hash: str, lock: tuple[str, ...] = (),
                 owner: dict[str, str] | None = None, namespace: str = "") -> str:
    """The final stage: the introspected image plus the worker's entry variables, the
    environment spec's variables, the non-root user and the per-plugin labels (plugin, flavor,
    manifest, lock, hash), untagged (the caller tags it). Returns its id.

    It is ``FROM <image_id>`` + ``USER`` + ``ENV`` + ``LABEL`` done as one commit, so it adds
    no layer and costs one container commit instead of three.
    """
    helper = {labels.MANAGED: "true", labels.ROLE: labels.ROLE_COMMIT,
              labels.PLUGIN: manifest.spec_name or manifest.name, **(owner or {})}
    image_labels = {labels.MANAGED: "true", labels.PLUGIN: spec.name, labels.ROLE: "plugin",
                    labels.FLAVOR: spec.flavor.value, labels.VERSION: __version__,
                    labels.MANIFEST: manifest_label(manifest), labels.SPEC_HASH: content_hash,
                    labels.STEP: "", labels.NAMESPACE: namespace or manifest.image.split("/", 1)[0]}
    if lock:
        image_labels[labels.LOCK] = "\n".join(lock)
    return engine.commit_image(
        image_id, None, helper_labels=helper, labels=image_labels,
        env={**image_variables(spec), envvars.WORKER_MODULE: manifest.module,
             envvars.WORKER_CLASS: manifest.class_name, "HOME": HOME},
        user=f"{USER_ID}:{USER_ID}", message=f"cjm-docker: manifest of {manifest.name}")


def manifest_label(manifest: Manifest) -> str:
    """The manifest as stored in the ``io.cjm.manifest`` label (compact, sorted, no image id:
    an image cannot carry its own id)."""
    data = manifest.model_dump(mode="json", by_alias=True)
    data["image_id"] = ""
    return json.dumps(data, sort_keys=True, separators=(",", ":"))
