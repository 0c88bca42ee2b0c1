"""`list`, `show` and `install-all` share one judgement of "current": the content hash the
image carries, not whatever image id the tag names now; a stale row says why and what to run."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from cjm_docker import labels
from cjm_docker.images import build as build_module
from cjm_docker.images.build import large_context_warning
from cjm_docker.images.context import ContextFile
from cjm_docker.images.inventory import ImageStatus, image_state
from cjm_docker.manifest import Manifest
from cjm_docker.spec.sources import PackageKind, PackageRef

HASH = "ab" * 32
TAG = f"cjm-plugin/echo:{HASH[:16]}"


def manifest(**extra: Any) -> Manifest:
    fields = {"name": "cjm-example-echo", "module": "m", "class": "C", "image": TAG,
              "image_id": "sha256:first", "spec_name": "echo", "image_hash": HASH} | extra
    return Manifest.model_validate(fields)


def image(image_id: str = "sha256:first", content_hash: str | None = HASH) -> dict[str, Any]:
    tags = {labels.SPEC_HASH: content_hash} if content_hash else {}
    return {"Id": image_id, "Size": 1000, "Config": {"Labels": tags}}


def test_present() -> None:
    state = image_state(manifest(), image(), TAG)
    assert state.status is ImageStatus.PRESENT and state.action == "" and state.size_bytes == 1000


def test_an_identical_rebuild_from_another_data_dir_is_not_stale() -> None:
    # Another data dir built the same inputs: the tag was re-committed, a new image id, the
    # same content hash. Both data dirs' plugins are current (install-all agrees: no rebuild).
    state = image_state(manifest(), image("sha256:recommitted"), TAG)
    assert state.status is ImageStatus.PRESENT


def test_missing_says_what_to_run() -> None:
    state = image_state(manifest(), None, TAG)
    assert state.status is ImageStatus.MISSING
    assert state.action == "cjm-ctl install-all -p echo" and TAG in state.reason


def test_changed_inputs_are_stale_with_the_reason() -> None:
    state = image_state(manifest(), image(), "cjm-plugin/echo:0123456789abcdef")
    assert state.status is ImageStatus.STALE
    assert "changed since it was built" in state.reason and "0123456789abcdef" in state.reason
    assert state.action == "cjm-ctl install-all -p echo"


def test_a_tag_holding_other_content_is_stale() -> None:
    state = image_state(manifest(), image("sha256:other", "cd" * 32), TAG)
    assert state.status is ImageStatus.STALE and "another build" in state.reason
    assert state.action.endswith("--force")


def test_manifests_written_before_the_hash_was_recorded() -> None:
    old = manifest(image_hash="")
    assert image_state(old, image("sha256:x"), TAG).status is ImageStatus.PRESENT  # tag's hash
    unlabelled = image("sha256:x", None)
    assert image_state(old, unlabelled, TAG).status is ImageStatus.STALE          # by image id
    assert image_state(old, image("sha256:first", None), TAG).status is ImageStatus.PRESENT


def test_no_plugins_yaml_means_no_expected_tag() -> None:
    assert image_state(manifest(), image(), None).status is ImageStatus.PRESENT


def test_a_large_build_context_is_warned_about(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(build_module, "LARGE_CONTEXT_BYTES", 1000)
    package = PackageRef("./demo", PackageKind.LOCAL, path=tmp_path / "demo")
    spec = SimpleNamespace(package=package, interface_libs=[])
    files = (ContextFile("cjm/plugin/models/w.bin", b"w" * 3000),
             ContextFile("cjm/plugin/pkg/a.py", b"a"), ContextFile("Dockerfile", b"FROM x"))
    text = large_context_warning(spec, files)   # type: ignore[arg-type]
    assert "cjm/plugin/models" in text and f"{tmp_path / 'demo'}/.dockerignore" in text
    assert large_context_warning(spec, files[1:]) == ""   # type: ignore[arg-type]


def test_changed_runtime_settings_are_stale_too() -> None:
    # Not in the image hash, but in the manifest: install-all makes the manifest again, so
    # list says so too.
    from cjm_docker.manifest import RuntimeSettings

    changed = RuntimeSettings.model_validate({"env": {"A": "1"}})
    state = image_state(manifest(), image(), TAG, changed)
    assert state.status is ImageStatus.STALE and "runtime settings" in state.reason
    assert image_state(manifest(), image(), TAG, RuntimeSettings()).status is ImageStatus.PRESENT
