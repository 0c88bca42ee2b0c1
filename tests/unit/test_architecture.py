"""The package's layers, checked: every import points down (docs/architecture.md draws them).

Third-party boundaries (the Docker SDK only in engine/, no httpx in the package) are ruff
rules (``banned-api`` in pyproject.toml); the layers between our own folders are checked here
by reading every module's imports, including the ones inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "cjm_docker"
DOC = PACKAGE.parent / "docs" / "architecture.md"

#: Each unit (a top-level module or folder of cjm_docker) and its layer: a unit may import
#: units of its own layer or below, never above.
LAYERS: dict[str, int] = {
    **dict.fromkeys(["_version", "errors", "codec", "envvars", "labels", "wire",
                     "interface", "validation", "metadata", "manifest", "naming", "name_rule",
                     "engine_endpoint", "owner"], 0),
    **dict.fromkeys(["engine", "engine_types", "engine_kind", "gpu_access", "cdi", "spec",
                     "config",
                     "telemetry"], 1),
    **dict.fromkeys(["scheduling", "images", "worker"], 2),
    "host": 3,
    **dict.fromkeys(["deploy", "queue"], 4),
    **dict.fromkeys(["conformance", "diagnostics", "cli"], 5),
    "__init__": 6,  # the public API: lazy names for the host's classes
}
#: The worker runs inside the container with the worker's requirements only.
WORKER_MAY_IMPORT = {name for name, layer in LAYERS.items() if layer == 0} | {"worker", "__init__"}


def unit_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def imported_units(path: Path) -> set[str]:
    units: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "cjm_docker":  # from cjm_docker import labels, wire
                units.update(alias.name for alias in node.names)
            elif node.module.startswith("cjm_docker."):
                units.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            units.update(alias.name.split(".")[1] for alias in node.names
                         if alias.name.startswith("cjm_docker."))
    return units


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_unit_has_a_layer() -> None:
    units = {unit_of(path) for path in modules()}
    assert units <= set(LAYERS), f"give these a layer here and in docs: {units - set(LAYERS)}"


def test_every_import_points_down() -> None:
    upward = []
    for path in modules():
        unit = unit_of(path)
        for target in imported_units(path) - {unit}:
            if LAYERS.get(target, 0) > LAYERS[unit]:
                upward.append(f"{path.relative_to(PACKAGE.parent)} imports {target}")
    assert upward == []


def test_the_worker_needs_nothing_of_the_host() -> None:
    for path in (PACKAGE / "worker").rglob("*.py"):
        assert imported_units(path) <= WORKER_MAY_IMPORT, path


def test_test_fakes_stay_out_of_the_package() -> None:
    fakes = [str(path.relative_to(PACKAGE.parent)) for path in modules()
             if "class Fake" in path.read_text()]
    assert fakes == [], "test fakes belong in tests/fakes/"


def test_the_architecture_page_names_every_folder() -> None:
    text = DOC.read_text()
    folders = sorted(p.name for p in PACKAGE.iterdir()
                     if p.is_dir() and (p / "__init__.py").exists())
    assert [f for f in folders if f"`{f}/`" not in text] == []


def test_the_manager_offers_what_the_queue_asks_of_it() -> None:
    from cjm_docker.host.manager import PluginManager
    from cjm_docker.host.proxy import RemotePluginProxy
    from cjm_docker.queue.manager_port import PluginRunner, QueuedPlugin

    for port, implementation in ((PluginRunner, PluginManager),
                                 (QueuedPlugin, RemotePluginProxy)):
        wanted = {n for n in vars(port) if not n.startswith("_")} - {"config", "container"}
        assert {n for n in wanted if not hasattr(implementation, n)} == set(), implementation


def test_nothing_outside_the_manager_touches_its_private_state() -> None:
    """``manager._lock`` and friends belong to host/manager.py alone."""
    reaching = []
    for path in modules():
        if path.name == "manager.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") \
                    and not node.attr.startswith("__"):
                owner = node.value
                name = owner.attr if isinstance(owner, ast.Attribute) else \
                    owner.id if isinstance(owner, ast.Name) else ""
                if name == "manager":
                    reaching.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert reaching == []


def test_foreign_exceptions_are_caught_at_one_choke_point() -> None:
    """Only engine/translation.py names a docker or requests exception in an ``except``."""
    catching = []
    for path in modules():
        if path == PACKAGE / "engine" / "translation.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ExceptHandler) and node.type is not None:
                names = ast.unparse(node.type)
                # the SDK's modules, or their names as engine/sdk.py exports them
                if any(m in names for m in ("docker.", "requests.", "docker_errors",
                                            "requests_exceptions")):
                    catching.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert catching == [], "translate with cjm_docker.engine.translation.translated"


def test_only_engine_sdk_imports_the_docker_sdk() -> None:
    """The Docker boundary is one file: every other module takes the SDK from engine/sdk.py."""
    importing = []
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n.split(".")[0] in ("docker", "requests") for n in names):
                importing.append(str(path.relative_to(PACKAGE.parent)))
    assert importing == ["cjm_docker/engine/sdk.py"] * len(importing) and importing
