"""The shared worker runtime image: one per base image and Python version, FROM which every
python-flavor plugin image starts.

It holds everything that does not depend on the plugin: the trust store with the extra CAs, the
non-root user, uv, the venv at ``/opt/venv`` with the worker's dependencies pinned to the host's
versions, and this host's cjm_docker files. It is tagged
``<docker.runtime_repository>/py<X.Y>:<hash16>``, the hash covering every input, so it is built
once and found again by its tag. Pure: rendering only (build.py builds it).
"""

from __future__ import annotations

from dataclasses import dataclass

from cjm_docker import labels
from cjm_docker.images.context import (
    TAG_HASH_LENGTH,
    ContextFile,
    DockerfileContext,
    content_hash,
)
from cjm_docker.images.render import (
    CERT_BUNDLE,
    CERT_VARIABLES,
    USER_ID,
    RenderSettings,
    one_line_each,
    template_environment,
)

TEMPLATE = "Dockerfile.runtime.j2"
VENV = "/opt/venv"
PYTHON = f"{VENV}/bin/python"
UV_HOME = "/opt/cjm/uv"
UV = f"{UV_HOME}/bin/uv"


@dataclass(frozen=True)
class RuntimePlan(DockerfileContext):
    """The runtime image of one base and Python version (its build args: the package index).

    Attributes:
        python_version: ``X.Y``.
    """

    python_version: str

    def content_hash(self, base_image_id: str) -> str:
        """The sha256 of every input (the base image by id)."""
        return content_hash(self.context_files(), base_image_id=base_image_id,
                            build_args=self.build_args)

    def tag(self, repository: str, base_image_id: str) -> str:
        """``<repository>/py<X.Y>:<hash16>``."""
        return f"{repository}/py{self.python_version}:{self.content_hash(base_image_id)[:TAG_HASH_LENGTH]}"


def runtime_env(settings: RenderSettings) -> dict[str, str]:
    """The runtime's environment variables (plugin images inherit them)."""
    env = {
        "PATH": f"{VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1", "VIRTUAL_ENV": VENV,
    }
    if settings.ca_certificates:  # the trust store now holds the extra CAs: point every tool at it
        env.update(dict.fromkeys(CERT_VARIABLES, CERT_BUNDLE))  # uv reads SSL_CERT_FILE too
    return env


def render_runtime(settings: RenderSettings, python_version: str, base_image: str, *,
                   custom_base: bool = False) -> RuntimePlan:
    """Render the runtime image of ``python_version`` on ``base_image``.

    Args:
        custom_base: the base is a plugin's own ``base_image`` (it may run as another user).
    """
    minor = ".".join(python_version.split(".")[:2])
    requirements = "".join(f"{line}\n" for line in settings.worker_requirements)
    constraints = "".join(f"{line}\n" for line in settings.worker_constraints)
    files = [*settings.runtime_files, *settings.ca_certificates,
             ContextFile("cjm/worker/requirements.txt", requirements.encode()),
             ContextFile("cjm/worker/constraints.txt", constraints.encode())]
    build_args = sorted(settings.index_build_args())
    image_labels = sorted({
        labels.MANAGED: "true", labels.VERSION: settings.cjm_version, labels.ROLE: "runtime",
        labels.PYTHON: minor, labels.NAMESPACE: settings.runtime_repository}.items())
    dockerfile = template_environment(settings.templates_dir).get_template(TEMPLATE).render(
        **one_line_each(f"runtime py{minor}", dict(
        cjm_version=settings.cjm_version,
        python_version=minor,
        base_image=base_image,
        runtime_repository=settings.runtime_repository,
        switch_to_root=custom_base,
        arg_names=[k for k, _ in build_args],
        certificates=bool(settings.ca_certificates),
        user_id=USER_ID,
        labels=image_labels,
        env_vars=sorted(runtime_env(settings).items()),
        python=PYTHON,
        venv=VENV,
        uv=UV,
        uv_home=UV_HOME,
        uv_requirement=f"uv=={settings.uv_version}",
    )))
    return RuntimePlan(
        python_version=minor, base_image=base_image, dockerfile=dockerfile,
        files=tuple(sorted(files, key=lambda f: f.path)), build_args=tuple(build_args),
        transient_args=settings.proxies)
