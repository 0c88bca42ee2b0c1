"""Changing only a plugin's own code rebuilds only its code layer: measured against a cold build
of the same plugin, it takes at most a quarter of the time.

"Cold" is ``nocache``: the shared runtime image is built again without Docker's cache and
re-tagged, and every layer step runs again (the later build follows the re-tagged runtime)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]
MAX_RATIO = 0.25


def test_code_only_change_rebuilds_a_quarter_or_less(project, cjm_ctl, capsys) -> None:
    source = project.root / "echo-copy"
    shutil.copytree(REPO / "examples" / "plugins" / "cjm-example-echo", source)
    plugins = project.write_plugins(
        "plugins:\n  - name: echo-rebuild\n    python_version: '3.11'\n    package: ./echo-copy\n")

    (spec,) = project.specs(plugins)
    cold = project.builder(plugins).install(spec, nocache=True)
    assert cold.built
    old = project.engine.image_inspect(cold.tag)["RootFS"]["Layers"]

    plugin_py = source / "cjm_example_echo" / "plugin.py"
    plugin_py.write_text(plugin_py.read_text().replace('"""Echo ``text``', '"""Echo the ``text``'))
    (spec,) = project.specs(plugins)
    warm = project.builder(plugins).install(spec)
    assert warm.built and warm.tag != cold.tag

    ratio = warm.seconds / cold.seconds
    with capsys.disabled():
        print(f"\ncold build: {cold.seconds:.1f} s; code-only rebuild: {warm.seconds:.1f} s; "
              f"ratio {ratio:.3f}")

    # the layers below the plugin's code are shared: only the code layer is new (the final
    # stage adds no layer)
    new = project.engine.image_inspect(warm.tag)["RootFS"]["Layers"]
    shared = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), len(old))
    assert shared == len(old) - 1 == len(new) - 1
    assert ratio <= MAX_RATIO

    # the manifest names the new image; remove takes it (and its manifest) away
    assert project.manifest_files() == ["cjm-example-echo.json"]
    assert set(project.tags("echo-rebuild")) == {cold.tag, warm.tag}
    result = cjm_ctl("remove", "echo-rebuild", "-y")
    assert result.code == 0, result.text
    assert project.tags("echo-rebuild") == [cold.tag] and project.manifest_files() == []
