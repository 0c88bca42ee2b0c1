"""Install conda packages into the image's venv with py-rattler (the rattler flavor's build step).

Runs inside ``docker build``, in a throwaway venv that holds only py-rattler, before the worker
runtime is in the image: it imports nothing of cjm_docker. Usage::

    python install.py request.json

The request (written by ``cjm_docker/images/render.py``) names the prefix (the venv), its interpreter, the
channels, and either match specs to solve or the exact packages of a lock. Python itself is the
base image's: the solver is told it is installed (a record of that exact version, never linked),
so packages that need ``python`` resolve for it, and noarch python packages land in the venv's
site-packages. ``pip`` stays the venv's own.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import rattler

PROVIDED_BY_BASE = ("python", "pip")


class LockMismatch(Exception):
    """The channel no longer has the exact file a lock pins."""


def _python_record(interpreter: str) -> rattler.RepoDataRecord:
    version = subprocess.run([interpreter, "-c", "import platform; print(platform.python_version())"],
                             check=True, capture_output=True, text=True).stdout.strip()
    subdir = str(rattler.Subdir.current())
    record = rattler.PackageRecord("python", version, rattler.BuildString("cjm_base"), 0, subdir,
                                   depends=[])
    return rattler.RepoDataRecord(record, f"python-{version}-cjm_base.conda",
                                  f"file:///opt/cjm/base/{subdir}/python-{version}-cjm_base.conda",
                                  "file:///opt/cjm/base/")


def _locked_specs(locked: list[dict]) -> list[str]:
    specs = []
    for package in locked:
        stem = package["url"].rsplit("/", 1)[1].removesuffix(".conda").removesuffix(".tar.bz2")
        name, version, build = stem.rsplit("-", 2)
        if name not in PROVIDED_BY_BASE:
            specs.append(f'{name}[version="=={version}",build="{build}"]')
    return specs


def _check_locked(records: list, locked: list[dict]) -> None:
    """Every pinned package resolved to the very file the lock names (hash included)."""
    by_file = {r.file_name: r for r in records}
    for package in locked:
        filename = package["url"].rsplit("/", 1)[1]
        if filename.split("-")[0] in PROVIDED_BY_BASE and filename not in by_file:
            continue
        record = by_file.get(filename)
        if record is None:
            raise LockMismatch(f"the lock pins {filename}, but the channel resolved another "
                               "build of it; re-create the lock.")
        wanted = package.get("sha256")
        if wanted and record.sha256 is not None and record.sha256.hex() != wanted.lower():
            raise LockMismatch(f"{filename} has sha256 {record.sha256.hex()} in its channel, "
                               f"the lock says {wanted}: the channel changed; re-create the lock.")


async def _install(request: dict) -> None:
    python = _python_record(request["python"])
    locked = request.get("locked") or []
    specs = _locked_specs(locked) if locked else list(request["specs"])
    records = await rattler.solve(request["channels"], specs, pinned_packages=[python],
                                  virtual_packages=rattler.VirtualPackage.detect())
    if locked:
        _check_locked(records, locked)
    names = sorted(f"{r.name.normalized}={r.version}" for r in records
                   if r.name.normalized not in PROVIDED_BY_BASE)
    print("cjm-docker: conda packages:", ", ".join(names) or "none", flush=True)
    await rattler.install(records, Path(request["prefix"]), cache_dir=Path("/tmp/cjm-rattler"),
                          ignored_packages=set(PROVIDED_BY_BASE), show_progress=False,
                          execute_link_scripts=False)


def main(argv: list[str]) -> int:
    request = json.loads(Path(argv[1]).read_text())
    try:
        asyncio.run(_install(request))
    except Exception as exc:  # the build log shows this; the step fails
        kind = "" if isinstance(exc, LockMismatch) else f"{type(exc).__name__}: "
        print(f"cjm-docker: conda install failed: {kind}{exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    code = main(sys.argv)
    # Leave without interpreter finalization: py-rattler's runtime threads may still release
    # the GIL then, which aborts the process (exit 134) after a complete install.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
