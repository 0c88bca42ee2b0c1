"""``editable: true``: which folder is mounted, read-only, and only for plugins marked so."""

from __future__ import annotations

from pathlib import Path

import pytest

from cjm_docker.config import CjmConfig
from cjm_docker.errors import PluginStartError, SpecError
from cjm_docker.host.container import EDITABLE_ROOT, PluginContainer
from cjm_docker.host.runtime_folder import RuntimeFolder
from cjm_docker.manifest import Manifest
from cjm_docker.owner import current_owner
from cjm_docker.spec import load_plugins_file, resolve_plugins

PYPROJECT = '[project]\nname = "dev-plugin"\nversion = "0.1"\ndependencies = []\n'


def _project(root: Path, *, src: bool = False) -> Path:
    package = root / "dev-plugin" / ("src" if src else "") / "dev_plugin"
    package.mkdir(parents=True)
    (package / "meta.py").write_text("def get_plugin_metadata():\n    return {}\n")
    (root / "dev-plugin" / "pyproject.toml").write_text(PYPROJECT)
    return package


def _resolve(root: Path, entry: str):
    (root / "plugins.yaml").write_text(f"plugins:\n  - name: dev\n{entry}")
    return resolve_plugins(load_plugins_file(root / "plugins.yaml"))[0]


def test_editable_mounts_the_package_folder_as_a_real_path(tmp_path: Path) -> None:
    package = _project(tmp_path)
    (tmp_path / "link").symlink_to(tmp_path / "dev-plugin")
    spec = _resolve(tmp_path, "    package: ./link\n    editable: true\n")
    assert spec.runtime.editable is not None
    assert spec.runtime.editable.source == str(package.resolve())  # the link is resolved
    assert spec.runtime.editable.module == "dev_plugin"


def test_editable_finds_a_src_layout(tmp_path: Path) -> None:
    package = _project(tmp_path, src=True)
    spec = _resolve(tmp_path, "    package: ./dev-plugin\n    editable: true\n")
    assert spec.runtime.editable.source == str(package)


def test_not_marked_means_no_editable_source(tmp_path: Path) -> None:
    _project(tmp_path)
    assert _resolve(tmp_path, "    package: -e ./dev-plugin\n").runtime.editable is None


def test_editable_needs_a_local_folder(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="key 'editable'.*only a local plugin folder"):
        _resolve(tmp_path, "    package: cjm-some-plugin==1.0\n    editable: true\n")


def test_editable_needs_the_package_folder(tmp_path: Path) -> None:
    _project(tmp_path)
    with pytest.raises(SpecError, match="no package folder 'other'"):
        _resolve(tmp_path, "    package: ./dev-plugin\n    editable: true\n    import_name: other\n")


class _LocalEngine:
    """Enough of an Engine for building a container spec: a local engine, never called."""

    endpoint = "unix:///var/run/docker.sock"

    def info(self) -> dict:
        return {"OperatingSystem": "Debian GNU/Linux 12 (bookworm)", "SecurityOptions": []}


def _container_spec(tmp_path: Path, runtime: dict):
    config = CjmConfig(data_dir=tmp_path / "data", runtime_dir=tmp_path / "run")
    manifest = Manifest.model_validate({"name": "dev", "module": "dev_plugin.plugin",
                                        "class": "DevPlugin", "image": "cjm-plugin/dev:1",
                                        "runtime": runtime})
    container = PluginContainer(manifest, config=config, engine=_LocalEngine(), owner=current_owner(),
                                session="s1")
    folder, _ = RuntimeFolder.create(config.resolved_runtime_dir, container.name)
    container.folder = folder
    return container._spec(folder, ())


def test_container_of_an_editable_plugin_mounts_it_read_only_first_on_the_path(tmp_path) -> None:
    package = _project(tmp_path)
    spec = _container_spec(tmp_path, {"editable": {"source": str(package), "module": "dev_plugin"},
                                      "env": {"PYTHONPATH": "/extra"}})
    (mount,) = [m for m in spec.mounts if m.target.startswith(EDITABLE_ROOT)]
    assert (mount.source, mount.target, mount.read_only) == (
        str(package), f"{EDITABLE_ROOT}/dev_plugin", True)
    assert spec.env["PYTHONPATH"] == f"{EDITABLE_ROOT}:/extra"


def test_container_of_a_plugin_not_marked_editable_gets_no_code_mount(tmp_path) -> None:
    _project(tmp_path)
    spec = _container_spec(tmp_path, {})
    assert not [m for m in spec.mounts if m.target.startswith(EDITABLE_ROOT)
                or m.source.startswith(str(tmp_path / "dev-plugin"))]
    assert "PYTHONPATH" not in spec.env


def test_an_editable_folder_that_went_away_is_a_start_error(tmp_path) -> None:
    with pytest.raises(PluginStartError, match="editable package folder .* does not exist"):
        _container_spec(tmp_path, {"editable": {"source": str(tmp_path / "gone"),
                                                "module": "dev_plugin"}})


def test_a_plugin_cannot_mark_itself_editable(tmp_path: Path) -> None:
    """Hostile metadata: the plugin's own answer claims a runtime with a mount of the host's
    home; the manifest's runtime is plugins.yaml's, whatever the plugin says."""
    from types import SimpleNamespace

    from cjm_docker.images.describe import make_manifest

    _project(tmp_path)
    spec = _resolve(tmp_path, "    package: ./dev-plugin\n")
    meta = {"name": "dev", "module": "dev_plugin.plugin", "class": "DevPlugin",
            "runtime": {"editable": {"source": "/root", "module": "dev_plugin"},
                        "volumes": [{"source": "/", "target": "/host"}]}}
    prepared = SimpleNamespace(python_path="/opt/venv/bin/python", lock_pins=(), shared_images=())
    manifest = make_manifest(meta, spec, prepared,  # type: ignore[arg-type]
                             tag="cjm-plugin/dev:1")
    assert manifest.runtime.editable is None and manifest.runtime.volumes == []
