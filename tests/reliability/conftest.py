"""Reliability fixtures: the integration tier's engine, images and manager, plus derived plugins
(the test workbench under another name with other runtime settings) and managers over a data
dir of their own. Every container is removed by label afterwards, even when a test fails."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration import conftest as integration

# The integration tier's fixtures, shared by this folder.
engine = integration.engine
data_dir = integration.data_dir
cjm_config = integration.cjm_config
base_images = integration.base_images
test_plugins = integration.test_plugins
manager = integration.manager
_no_leftover_containers = integration._no_leftover_containers
remove_containers = integration.remove_containers

WORKBENCH = "cjm-test-workbench"


def derived_manifest(test_plugins: dict[str, dict], folder: Path, name: str,
                     **runtime: Any) -> dict[str, Any]:
    """Write the workbench's manifest under ``name`` with ``runtime`` settings merged in."""
    base = test_plugins[WORKBENCH]
    merged_runtime = {**(base.get("runtime") or {})}
    for key, value in runtime.items():
        if isinstance(value, dict) and isinstance(merged_runtime.get(key), dict):
            merged_runtime[key] = {**merged_runtime[key], **value}
        else:
            merged_runtime[key] = value
    manifest = {**base, "name": name, "runtime": merged_runtime}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(manifest))
    return manifest


@pytest.fixture
def make_manager(cjm_config, test_plugins, engine, tmp_path) -> Iterator[Callable[..., Any]]:
    """A factory of PluginManagers: ``make_manager(config=None, variants={name: runtime})``.

    Variants are the workbench under another name with other runtime settings (memory limit,
    read-only root filesystem, ...), written to a temp manifests folder searched first.
    """
    from cjm_docker.host.manager import PluginManager

    made: list[PluginManager] = []

    def make(config: Any = None, variants: dict[str, dict[str, Any]] | None = None):
        extra = tmp_path / f"variants-{len(made)}"
        for name, runtime in (variants or {}).items():
            derived_manifest(test_plugins, extra, name, **runtime)
        mgr = PluginManager(search_paths=[extra, cjm_config.manifests_dir],
                            config=config or cjm_config, engine=engine)
        mgr.discover_manifests()
        made.append(mgr)
        return mgr

    try:
        yield make
    finally:
        from cjm_docker import labels

        for mgr in made:
            with contextlib.suppress(Exception):   # removal by label below is what matters
                mgr.unload_all()
            remove_containers(engine, {labels.SESSION: mgr.session})


def containers_of(engine, session: str) -> list:
    """The running managed containers of one manager session."""
    from cjm_docker import labels

    return [c for c in engine.list_containers({labels.MANAGED: "true", labels.SESSION: session})
            if c.running]
