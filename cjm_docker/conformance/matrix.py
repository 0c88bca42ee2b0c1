"""The CI matrix: one GitHub Actions job per plugin (and per Python version and runner the
plugin's ``ci`` key declares), as ``strategy.matrix`` takes it (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cjm_docker.spec.plugins_file import PluginEntry

DEFAULT_PYTHON = "3.11"
DEFAULT_RUNNER = "ubuntu-latest"


def ci_matrix(entries: Iterable[PluginEntry], *, default_python: str = DEFAULT_PYTHON,
              default_runner: str = DEFAULT_RUNNER) -> dict[str, Any]:
    """``{"include": [{"plugin", "python", "runs_on", "image_python"}, ...]}`` in file order.

    ``python`` is the host Python of the job (``actions/setup-python``); ``image_python`` is
    the plugin's own, inside its image (empty: the host's).
    """
    include: list[dict[str, str]] = []
    for entry in entries:
        image_python = str(entry.python_version) if entry.python_version is not None else ""
        for python in entry.ci.python or [default_python]:
            for runner in entry.ci.runs_on or [default_runner]:
                include.append({"plugin": entry.name, "python": python, "runs_on": runner,
                                "image_python": image_python})
    return {"include": include}
