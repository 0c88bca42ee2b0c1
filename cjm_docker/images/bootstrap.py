"""`cjm-ctl setup-runtime`: make the base image aliases present.

For each base: an alias already present is kept; else the configured reference is tagged when
it is present locally (e.g. after ``docker load``), else pulled (through ``registry_mirror``).
When the Python base cannot be pulled and the bootstrap policy allows, it is built locally:
debootstrap the Debian suite that ships that Python, import it as an image, build
``images/python-base`` on top. The micromamba base cannot be bootstrapped; its absence is
reported with what to do.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cjm_docker import labels
from cjm_docker.config import BootstrapPolicy, CjmConfig
from cjm_docker.engine import Engine
from cjm_docker.errors import BaseImageMissingError, ImageError
from cjm_docker.images.bases import (
    MICROMAMBA_ALIAS,
    debian_suite,
    pull_reference,
    python_alias,
    rootfs_ref,
)
from cjm_docker.images.build_journal import journaled_build
from cjm_docker.images.context import collect_tree, context_tar
from cjm_docker.images.runtime import images_dir
from cjm_docker.spec.environment import Flavor
from cjm_docker.spec.resolve import PluginSpec

DEBOOTSTRAP_PACKAGES = ("python3", "python3-venv", "ca-certificates")
# Dropped from the root filesystem before import: apt's indexes and caches (~95 MB); every
# build that installs packages runs apt-get update anyway.
_ROOTFS_PRUNE = ("var/lib/apt/lists", "var/cache/apt")


class SetupReporter(Protocol):
    """Where setup-runtime's progress goes."""

    def step(self, text: str) -> None: ...
    def line(self, text: str) -> None: ...
    def transfer(self, done: int, total: int) -> None: ...
    def done(self, text: str) -> None: ...


class QuietSetup:
    """Reports nothing."""

    def step(self, text: str) -> None:
        pass

    def line(self, text: str) -> None:
        pass

    def transfer(self, done: int, total: int) -> None:
        pass

    def done(self, text: str) -> None:
        pass


@dataclass(frozen=True)
class BaseOutcome:
    """What setup-runtime did for one base image."""

    alias: str
    how: str          # "present", "tagged", "pulled", "bootstrapped"
    detail: str
    seconds: float


class RuntimeSetup:
    """Makes base image aliases present."""

    def __init__(self, config: CjmConfig, engine: Engine, reporter: SetupReporter | None = None):
        self.config = config
        self.engine = engine
        self.reporter: SetupReporter = reporter or QuietSetup()

    # -- Python ---------------------------------------------------------------------------------

    def ensure_python(self, python_version: str, *, force: bool = False) -> BaseOutcome:
        """Make ``cjm-docker/base-python:<X.Y>`` present.

        Raises:
            BaseImageMissingError: it could be neither pulled nor bootstrapped (says why).
        """
        started = time.perf_counter()
        alias = python_alias(python_version)
        if not force and self.engine.image_exists(alias):
            return BaseOutcome(alias, "present", "already present", 0.0)
        ref = pull_reference(self.config.docker, Flavor.PYTHON, python_version)
        policy = self.config.docker.bootstrap
        pull_error = "not tried (bootstrap: always)"
        if policy != BootstrapPolicy.ALWAYS:
            try:
                how = self._pull_and_tag(ref, alias)
                return BaseOutcome(alias, how, ref, time.perf_counter() - started)
            except ImageError as exc:
                pull_error = exc.message
        if policy == BootstrapPolicy.NEVER:
            raise BaseImageMissingError(
                f"The Python base {alias} is missing: {pull_error}",
                hint="The bootstrap policy is 'never'; allow it (docker.bootstrap: auto), set "
                     "docker.registry_mirror, or `docker load` the image and tag it.")
        suite = debian_suite(python_version)
        self.reporter.step(f"{ref} cannot be pulled ({_first_line(pull_error)}); building "
                           f"{alias} from Debian {suite} instead")
        rootfs = rootfs_ref(suite)
        if force or not self.engine.image_exists(rootfs):
            self.make_rootfs(suite, rootfs)
        self.build_python_base(rootfs, alias, python_version)
        return BaseOutcome(alias, "bootstrapped", f"debootstrap {suite} + images/python-base",
                           time.perf_counter() - started)

    def _pull_and_tag(self, ref: str, alias: str) -> str:
        if self.engine.image_exists(ref):
            self.engine.tag_image(ref, alias)
            return "tagged"
        self.reporter.step(f"pulling {ref}")
        self.engine.pull(ref)
        self.engine.tag_image(ref, alias)
        return "pulled"

    def make_rootfs(self, suite: str, rootfs: str) -> None:
        """debootstrap ``suite`` (minbase + python3, python3-venv, ca-certificates), prune apt's
        caches, and import it as image ``rootfs``.

        Raises:
            BaseImageMissingError: debootstrap is missing, not root, or failed (output attached).
        """
        debootstrap = shutil.which("debootstrap")
        if debootstrap is None:
            raise BaseImageMissingError(
                f"debootstrap is not installed, so the Debian {suite} root filesystem for the "
                "Python base cannot be made.",
                hint="Install it (`sudo apt-get install debootstrap`) and run `cjm-ctl "
                     "setup-runtime` again, or set docker.registry_mirror so the base can be pulled.")
        if os.geteuid() != 0:
            raise BaseImageMissingError(
                "debootstrap needs root to make the Python base's root filesystem.",
                hint="Run `sudo cjm-ctl setup-runtime` once, or `docker load` a Python base.")
        target = Path(tempfile.mkdtemp(prefix=f"cjm-rootfs-{suite}-", dir=_scratch_dir()))
        try:
            self._debootstrap(debootstrap, suite, target)
            for sub in _ROOTFS_PRUNE:
                _empty_folder(target / sub)
            self._import(target, rootfs)
        finally:
            _remove_tree(target)

    def _debootstrap(self, binary: str, suite: str, target: Path) -> None:
        mirror = self.config.docker.debian_mirror
        command = [binary, "--variant=minbase", f"--include={','.join(DEBOOTSTRAP_PACKAGES)}",
                   suite, str(target), mirror]
        self.reporter.step(f"debootstrap {suite} from {mirror}")
        tail: list[str] = []
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, errors="replace") as proc:
            assert proc.stdout is not None
            for raw in proc.stdout:
                line = raw.rstrip()
                if line:
                    tail = (tail + [line])[-20:]
                    self.reporter.line(line)
            code = proc.wait()
        if code != 0:
            log = target / "debootstrap" / "debootstrap.log"
            extra = log.read_text(errors="replace").splitlines()[-20:] if log.is_file() else []
            raise BaseImageMissingError(
                f"debootstrap of Debian {suite} failed (exit {code}):\n" + "\n".join(tail + extra),
                hint=f"Check that {mirror} is reachable (docker.debian_mirror / CJM_DEBIAN_MIRROR).")

    def _import(self, target: Path, rootfs: str) -> None:
        total = sum(f.stat().st_size for f in target.rglob("*") if f.is_file() and not f.is_symlink())
        self.reporter.step(f"importing the root filesystem as {rootfs}")
        sent = 0

        def on_bytes(count: int) -> None:
            nonlocal sent
            sent += count
            self.reporter.transfer(sent, max(total, sent))

        with subprocess.Popen(["tar", "--numeric-owner", "-C", str(target), "-c", "."],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) as tar:
            assert tar.stdout is not None
            self.engine.import_rootfs(tar.stdout, rootfs, on_bytes=on_bytes, changes=[
                f'LABEL {labels.MANAGED}="true" {labels.ROLE}="base"'])
            err = tar.stderr.read().decode(errors="replace") if tar.stderr else ""
            if tar.wait() != 0:
                self.engine.remove_image(rootfs, force=True)
                raise BaseImageMissingError(f"tar of the root filesystem failed: {err.strip()}")

    def build_python_base(self, rootfs: str, alias: str, python_version: str) -> None:
        """Build ``images/python-base`` on ``rootfs`` and tag it ``alias``."""
        folder = images_dir() / "python-base"
        self.reporter.step(f"building {alias} from {folder}")
        journaled_build(
            self.engine, _bytes(context_tar(collect_tree(folder))), tag=alias,
            buildargs={"ROOTFS": rootfs},
            labels={labels.MANAGED: "true", labels.ROLE: "base", labels.FLAVOR: "python"},
            on_event=lambda e: self.reporter.line(e.text) if e.kind != "status" else None,
            plugin=f"base-python-{python_version}")

    # -- micromamba -----------------------------------------------------------------------------

    def ensure_micromamba(self, *, force: bool = False) -> BaseOutcome:
        """Make ``cjm-docker/base-micromamba:2`` present (pull or tag only).

        Raises:
            BaseImageMissingError: it is absent and cannot be pulled; says what to do.
        """
        started = time.perf_counter()
        if not force and self.engine.image_exists(MICROMAMBA_ALIAS):
            return BaseOutcome(MICROMAMBA_ALIAS, "present", "already present", 0.0)
        ref = pull_reference(self.config.docker, Flavor.MICROMAMBA)
        try:
            how = self._pull_and_tag(ref, MICROMAMBA_ALIAS)
        except ImageError as exc:
            raise micromamba_missing(ref, exc.message) from exc
        return BaseOutcome(MICROMAMBA_ALIAS, how, ref, time.perf_counter() - started)


def micromamba_missing(ref: str, reason: str) -> BaseImageMissingError:
    """The error for an absent micromamba base, with every way out."""
    return BaseImageMissingError(
        f"The micromamba base image {MICROMAMBA_ALIAS} is not present and its source {ref} "
        "cannot be pulled "
        f"({_first_line(reason)}). Plugins with 'flavor: micromamba' need it; it cannot be "
        "bootstrapped locally.",
        hint=f"Without 'flavor: micromamba', conda packages build on the rattler flavor, which "
             f"needs no registry. Else set docker.registry_mirror (or CJM_REGISTRY_MIRROR) to a reachable "
             f"registry mirror, or docker.base_images.micromamba to an image you can pull; or on "
             f"a machine with registry access run `docker pull {ref} && docker save {ref} -o "
             f"micromamba.tar`, copy the file here and run `docker load -i micromamba.tar`; then "
             f"run `cjm-ctl setup-runtime` again.")


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def _bytes(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)


def _scratch_dir() -> str:
    return "/var/tmp" if os.path.isdir("/var/tmp") else tempfile.gettempdir()


def _empty_folder(folder: Path) -> None:
    if not folder.is_dir():
        return
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            _empty_folder(child)  # keep the folder skeleton (apt expects lists/partial)
        else:
            child.unlink()


def _remove_tree(target: Path) -> None:
    """Remove a debootstrap target, unless something is still mounted inside it."""
    mounts = Path("/proc/mounts").read_text().split("\n") if Path("/proc/mounts").exists() else []
    if any(f" {target}/" in line or f" {target} " in line for line in mounts):
        return  # debootstrap left proc/sys mounted: never rm -rf through a mount
    shutil.rmtree(target, ignore_errors=True)


def needed_bases(specs: list[PluginSpec]) -> tuple[list[str], bool]:
    """The Python versions (``X.Y``) and whether micromamba is needed by these plugins (those
    with their own base_image need neither)."""
    pythons = sorted({s.python_minor for s in specs
                      if s.base_image is None and s.flavor != Flavor.MICROMAMBA})
    micromamba = any(s.base_image is None and s.flavor == Flavor.MICROMAMBA for s in specs)
    return pythons, micromamba
