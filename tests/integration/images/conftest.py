"""Integration fixtures: the real engine, a real base image, a private image prefix.

Every test session tags its images ``cjm-test-<hex>/<plugin>:<hash>`` and removes them at the
end; each test gets its own data dir (CJM_DATA_DIR through a cjm.yaml). The base image is made
by the real bootstrap (`setup-runtime`'s code) when it is missing, as on a fresh CI machine.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cjm_docker import config as config_module
from cjm_docker import labels
from cjm_docker.config import CjmConfig, load_config
from cjm_docker.engine import Engine
from cjm_docker.images.bootstrap import RuntimeSetup
from cjm_docker.images.build import ImageBuilder
from cjm_docker.spec import PluginSpec
from cjm_docker.spec.resolve import host_python_version, load_specs

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def engine() -> Engine:
    return Engine()


@pytest.fixture(scope="session")
def image_prefix(engine: Engine) -> Iterator[str]:
    """A registry namespace of this session's own; everything tagged under it goes at the end."""
    prefix = f"cjm-test-{secrets.token_hex(3)}"
    yield prefix
    # plugin images, and the runtime and stack images the project fixture names after them
    spaces = (f"{prefix}/", f"{prefix}-runtime/", f"{prefix}-stack/")
    for image in engine.list_images(label=labels.MANAGED):
        for tag in image.get("RepoTags") or []:
            if tag.startswith(spaces):
                engine.remove_image(tag, force=True)


@pytest.fixture(scope="session")
def python_base(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> str:
    """cjm-docker/base-python:<host X.Y>, bootstrapped for real when it is missing."""
    config = load_config(data_dir=tmp_path_factory.mktemp("base-data"))
    started = time.perf_counter()
    outcome = RuntimeSetup(config, engine).ensure_python(host_python_version())
    print(f"\nbase image {outcome.alias}: {outcome.how} ({time.perf_counter() - started:.1f} s)")
    return outcome.alias


@dataclass
class Project:
    """A temporary project: a cjm.yaml (data dir, image prefix) and plugins.yaml files."""

    root: Path
    prefix: str
    engine: Engine

    @property
    def config(self) -> CjmConfig:
        return load_config(self.root / "cjm.yaml")

    @property
    def manifests(self) -> Path:
        return self.root / "data" / "manifests"

    def write_plugins(self, text: str, name: str = "plugins.yaml") -> Path:
        path = self.root / name
        path.write_text(text)
        return path

    def specs(self, plugins: Path, only: list[str] | None = None) -> list[PluginSpec]:
        return load_specs(plugins, only=only)[1]

    def builder(self, plugins: Path) -> ImageBuilder:
        return ImageBuilder(self.config, engine=self.engine,
                            plugin_names=[s.name for s in self.specs(plugins)])

    def tags(self, plugin: str | None = None) -> list[str]:
        """Tags of this project's prefix (optionally one plugin's)."""
        want = f"{self.prefix}/{plugin}:" if plugin else f"{self.prefix}/"
        return sorted(t for image in self.engine.list_images(label=labels.MANAGED)
                      for t in image.get("RepoTags") or [] if t.startswith(want))

    def introspection_containers(self) -> list[str]:
        return [c.name for c in self.engine.list_containers({labels.ROLE: "introspect"})]

    def manifest_files(self) -> list[str]:
        return sorted(p.name for p in self.manifests.glob("*.json")) if self.manifests.is_dir() else []


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, image_prefix: str, engine: Engine,
            python_base: str) -> Iterator[Project]:
    (tmp_path / "cjm.yaml").write_text(
        f"data_dir: ./data\ndocker:\n  image_prefix: {image_prefix}\n"
        f"  runtime_repository: {image_prefix}-runtime\n  stack_repository: {image_prefix}-stack\n")
    monkeypatch.setenv("CJM_CONFIG", str(tmp_path / "cjm.yaml"))
    monkeypatch.delenv("CJM_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    config_module.reset_config()
    yield Project(tmp_path, image_prefix, engine)
    config_module.reset_config()
