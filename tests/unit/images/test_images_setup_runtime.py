"""setup-runtime's decisions, against a fake engine: tag what is there, pull, bootstrap, or say
clearly what is missing and what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from cjm_docker.config import load_config
from cjm_docker.errors import BaseImageMissingError
from cjm_docker.images import bootstrap
from cjm_docker.images.bootstrap import RuntimeSetup, needed_bases
from cjm_docker.spec import load_plugins_file, resolve_plugins
from tests.fakes.engine import FakeEngine


def _setup(tmp_path: Path, engine: FakeEngine, **docker) -> RuntimeSetup:
    config = load_config(data_dir=tmp_path, overrides=docker or None)
    return RuntimeSetup(config, engine)  # type: ignore[arg-type]


def test_present_alias_is_kept(tmp_path: Path) -> None:
    engine = FakeEngine(images={"cjm-docker/base-python:3.11"})
    assert _setup(tmp_path, engine).ensure_python("3.11").how == "present"
    assert engine.calls == []


def test_a_loaded_reference_is_tagged_without_pulling(tmp_path: Path) -> None:
    engine = FakeEngine(images={"python:3.11-slim-bookworm",
                                "mambaorg/micromamba:2.0.5-bookworm-slim"})
    setup = _setup(tmp_path, engine)
    assert setup.ensure_python("3.11").how == "tagged"
    assert setup.ensure_micromamba().how == "tagged"
    assert ("tag", "python:3.11-slim-bookworm", "cjm-docker/base-python:3.11") in engine.calls
    assert not [c for c in engine.calls if c[0] == "pull"]


def test_failed_pull_bootstraps_from_debian(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = FakeEngine()
    made: list[tuple[str, str]] = []
    monkeypatch.setattr(RuntimeSetup, "make_rootfs", lambda self, suite, ref: made.append((suite, ref)))
    outcome = _setup(tmp_path, engine).ensure_python("3.11")
    assert outcome.how == "bootstrapped"
    assert made == [("bookworm", "cjm-docker/rootfs:bookworm")]
    assert ("pull", "python:3.11-slim-bookworm") in engine.calls
    assert ("build", "cjm-docker/base-python:3.11") in engine.calls


def test_an_imported_rootfs_is_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = FakeEngine(images={"cjm-docker/rootfs:bookworm"})
    monkeypatch.setattr(RuntimeSetup, "make_rootfs", lambda *a: pytest.fail("debootstrap again"))
    assert _setup(tmp_path, engine).ensure_python("3.11").how == "bootstrapped"


def test_the_mirror_is_tried_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = FakeEngine()
    monkeypatch.setattr(RuntimeSetup, "make_rootfs", lambda self, suite, ref: None)
    _setup(tmp_path, engine, registry_mirror="mirror.local:5000").ensure_python("3.11")
    assert ("pull", "mirror.local:5000/python:3.11-slim-bookworm") in engine.calls


def test_policy_never_does_not_bootstrap(tmp_path: Path) -> None:
    with pytest.raises(BaseImageMissingError) as info:
        _setup(tmp_path, FakeEngine(), bootstrap="never").ensure_python("3.11")
    assert "bootstrap policy is 'never'" in str(info.value)


def test_policy_always_does_not_pull(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = FakeEngine()
    monkeypatch.setattr(RuntimeSetup, "make_rootfs", lambda self, suite, ref: None)
    _setup(tmp_path, engine, bootstrap="always").ensure_python("3.11")
    assert not [c for c in engine.calls if c[0] == "pull"]


def test_missing_debootstrap_is_said_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bootstrap.shutil, "which", lambda name: None)
    with pytest.raises(BaseImageMissingError) as info:
        _setup(tmp_path, FakeEngine()).ensure_python("3.11")
    assert "debootstrap is not installed" in str(info.value)
    assert "apt-get install debootstrap" in str(info.value)


def test_unsupported_python_version(tmp_path: Path) -> None:
    with pytest.raises(BaseImageMissingError) as info:
        _setup(tmp_path, FakeEngine()).ensure_python("3.8")
    assert "No Debian release ships Python 3.8" in str(info.value)


def test_missing_micromamba_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(BaseImageMissingError) as info:
        _setup(tmp_path, FakeEngine()).ensure_micromamba()
    text = str(info.value)
    assert "mambaorg/micromamba:2.0.5-bookworm-slim" in text and "no such host" in text
    assert "docker load -i micromamba.tar" in text and "registry_mirror" in text
    assert "docker.base_images.micromamba" in text


def test_needed_bases(tmp_path: Path) -> None:
    (tmp_path / "env.yml").write_text("dependencies: [python=3.12, ffmpeg]\n")
    (tmp_path / "plugins.yaml").write_text("""
plugins:
  - {name: a, package: a, python_version: '3.11'}
  - {name: b, package: b, python_version: '3.13'}
  - {name: c, package: c, env_file: env.yml, flavor: micromamba}
  - {name: d, package: d, python_version: '3.9', base_image: 'python:3.9'}
  - {name: e, package: e, env_file: env.yml}
""")
    specs = resolve_plugins(load_plugins_file(tmp_path / "plugins.yaml"))
    # c: micromamba; e: conda packages on the rattler flavor, which builds on the Python base
    assert needed_bases(specs) == (["3.11", "3.12", "3.13"], True)
    assert needed_bases([s for s in specs if s.name != "c"]) == (["3.11", "3.12", "3.13"], False)
