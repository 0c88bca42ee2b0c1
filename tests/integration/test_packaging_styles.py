"""Local plugin folders build with every packaging style plugin authors use, and run.

tests/plugins/packaging/ holds one tiny plugin per style (setuptools with pyproject.toml only,
setup.py only, setup.cfg, nbdev's settings.ini read by setup.py, src/ layout, hatchling,
flit-core, poetry-core, pdm-backend). Each declares the same dependency (six) and version
(1.2.3) its own way; one `cjm-ctl install-all` builds all nine (they share every layer up to
their own code), then each is executed in its own container: the result proves the build read
that style's files (version, dependency) and installed the package (not a source checkout)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from cjm_docker.spec.plugins_file import load_plugins_file
from tests.integration.conftest import REPO, run_ctl

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PACKAGING_YAML = REPO / "tests" / "plugins" / "packaging" / "plugins.yaml"
STYLES = [entry.name.removeprefix("pkg-") for entry in load_plugins_file(PACKAGING_YAML).plugins]


@pytest.fixture(scope="session")
def packaging_install(base_images, data_dir: Path) -> subprocess.CompletedProcess[str]:
    """Every packaging fixture built in one install-all (a failing style does not stop the
    others; each test reports its own)."""
    return run_ctl("install-all", "--plugins", str(PACKAGING_YAML), data_dir=data_dir,
                   check=False)


def test_there_is_one_fixture_per_style():
    assert set(STYLES) == {"setuptools-pyproject", "setup-py", "setup-cfg", "nbdev",
                           "src-layout", "hatchling", "flit-core", "poetry-core", "pdm-backend"}


@pytest.mark.timeout(1800)  # the first one waits for the nine builds
@pytest.mark.parametrize("style", STYLES)
def test_style_builds_and_executes(style: str, packaging_install, data_dir: Path) -> None:
    manifest = data_dir / "manifests" / f"cjm-pkg-{style}.json"
    assert manifest.is_file(), (
        f"the {style} plugin was not installed; install-all said:\n"
        f"{packaging_install.stdout[-3000:]}\n{packaging_install.stderr[-5000:]}")
    proc = run_ctl("exec", f"pkg-{style}", "text=hi", "--json", data_dir=data_dir, timeout=300)
    result = json.loads(proc.stdout)
    assert result["style"] == style and result["text"] == "hi"
    assert result["version"] == "1.2.3", "the build did not read the style's version"
    assert result["six"] is True, "the dependency declared the style's way was not installed"
    assert "site-packages" in result["file"], "the package ran from a source copy"
