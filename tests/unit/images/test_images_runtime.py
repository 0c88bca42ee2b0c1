"""The baked runtime: complete, self-contained, pinned to the host."""

from __future__ import annotations

import ast
import importlib.metadata
from pathlib import Path

from cjm_docker.images.runtime import (
    RUNTIME_FILES,
    RUNTIME_PREFIX,
    WORKER_REQUIREMENTS,
    package_root,
    runtime_files,
    worker_requirements,
)

ALLOWED_THIRD_PARTY = set(WORKER_REQUIREMENTS) | {"starlette", "pydantic", "anyio"}


def _module_file(module: str, root: Path) -> str | None:
    parts = module.split(".")[1:]
    if not parts:
        return "__init__.py"
    base = root.joinpath(*parts)
    if (base / "__init__.py").is_file():
        return "/".join(parts) + "/__init__.py"
    if base.with_suffix(".py").is_file():
        return "/".join(parts) + ".py"
    return None


def _imports(path: Path, package: str) -> set[str]:
    tree = ast.parse(path.read_text())
    # `if TYPE_CHECKING:` imports never run: only type checkers read them
    type_only = {id(inner) for node in ast.walk(tree) if isinstance(node, ast.If)
                 and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
                 for stmt in node.body for inner in ast.walk(stmt)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                found.add(f"{base}.{node.module}" if node.module else base)
            elif node.module:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_every_cjm_docker_import_of_the_runtime_is_baked() -> None:
    root = package_root()
    baked = {f.path.removeprefix(RUNTIME_PREFIX + "/") for f in runtime_files()}
    missing = []
    for rel in sorted(baked):
        if not rel.endswith(".py"):
            continue
        package = "cjm_docker." + rel.removesuffix(".py").replace("/", ".").removesuffix(".__init__")
        if not rel.endswith("__init__.py"):
            package = package.rsplit(".", 1)[0]
        for module in _imports(root / rel, package):
            if module.split(".")[0] != "cjm_docker":
                continue
            target = _module_file(module, root)
            if target is not None and target not in baked:
                missing.append(f"{rel} imports {module} ({target})")
    assert not missing, "add these to RUNTIME_FILES:\n" + "\n".join(missing)


def test_runtime_has_no_host_only_modules() -> None:
    baked = {f.path for f in runtime_files()}
    for host_only in ("engine/__init__.py", "engine/translation.py", "config.py", "cli/app.py", "images/build.py", "host/manager.py"):
        assert f"{RUNTIME_PREFIX}/{host_only}" not in baked
    assert f"{RUNTIME_PREFIX}/images/introspect.py" in baked
    assert not any("__pycache__" in p for p in baked)


def test_runtime_list_is_defined_once_and_present() -> None:
    root = package_root()
    for entry in RUNTIME_FILES:
        assert (root / entry).exists(), entry


def test_worker_requirements_are_pinned_to_the_host() -> None:
    pins = dict(p.split("==") for p in worker_requirements())
    assert pins["fastapi"] == importlib.metadata.version("fastapi")
    assert pins["uvicorn"] == importlib.metadata.version("uvicorn")


def test_introspection_script_is_standard_library_only() -> None:
    path = package_root() / "images" / "introspect.py"
    third_party = {m.split(".")[0] for m in _imports(path, "cjm_docker.images")} - {
        "__future__", "contextlib", "importlib", "inspect", "json", "sys", "traceback", "typing"}
    assert third_party == set()
