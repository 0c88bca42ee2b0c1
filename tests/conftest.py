"""Shared test helpers: run the real `cjm-ctl` entry point in-process."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from cjm_docker import config as config_module

# Tests choose their own data dirs and settings: the caller's CJM_* variables (a developer's
# data dir, CI's) must not leak into them; integration fixtures set what they need explicitly.
# CJM_UPDATE_GOLDEN is the tests' own switch (regenerate the golden files), not a setting.
for _name in [n for n in os.environ if n.startswith("CJM_") and n != "CJM_UPDATE_GOLDEN"]:
    del os.environ[_name]

REPO = Path(__file__).resolve().parents[1]


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


@pytest.fixture
def cjm_ctl(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run `cjm-ctl ARGS` through ``cjm_docker.cli.app.main`` (the real entry point)."""
    from cjm_docker.cli.app import main
    from cjm_docker.cli.root import state

    def run(*args: str) -> CliResult:
        config_module.reset_config()
        state.debug = False
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            main(list(args))
        out, err = capsys.readouterr()
        code = exit_info.value.code
        return CliResult(code if isinstance(code, int) else (0 if code is None else 1), out, err)

    return run

