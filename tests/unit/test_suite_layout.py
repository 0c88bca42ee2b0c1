"""The whole suite collects: tests/ has no __init__.py files, so pytest imports every test module
by its bare file name, and two test files with one name (tests/unit/x.py, tests/integration/x.py)
or a bare ``from conftest import`` (which conftest depends on what was imported first) break
collection of the full run while each file alone still passes."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_test_module_names_are_unique():
    seen: dict[str, list[str]] = defaultdict(list)
    for path in TESTS.rglob("test_*.py"):
        seen[path.name].append(str(path.relative_to(TESTS)))
    assert not {name: paths for name, paths in seen.items() if len(paths) > 1}


def test_conftest_helpers_are_imported_by_package_path():
    bare = re.compile(r"^\s*(from conftest import|import conftest\b)", re.M)
    offenders = [str(p.relative_to(TESTS)) for p in TESTS.rglob("*.py") if bare.search(p.read_text())]
    assert offenders == [], "import helpers as `from tests.integration.conftest import ...`"
