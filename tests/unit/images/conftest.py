"""Unit tests need no Docker daemon: constructing an Engine fails the test."""

from __future__ import annotations

from pathlib import Path

import pytest

from cjm_docker import config as config_module
from cjm_docker import engine as engine_module


class EngineUsed(AssertionError):
    """A unit test reached the Docker engine."""


@pytest.fixture(autouse=True)
def no_docker(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record (and refuse) any attempt to talk to Docker."""
    calls: list[str] = []

    def refuse(self, *args, **kwargs):  # noqa: ANN001
        calls.append("Engine()")
        raise EngineUsed("a unit test tried to use the Docker engine")

    monkeypatch.setattr(engine_module.Engine, "__init__", refuse)
    return calls


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean cwd and data dir (CJM_DATA_DIR) per test."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CJM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CJM_CONFIG", raising=False)
    config_module.reset_config()
    yield tmp_path
    config_module.reset_config()
