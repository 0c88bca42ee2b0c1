"""Locks resolved for real by uv against the package index (no engine needed, the network is):
an unchanged plugin is not resolved again, a changed one keeps the versions that still fit, and
only `--upgrade` moves them."""

from __future__ import annotations

from pathlib import Path

import pytest

from cjm_docker.errors import BuildError
from cjm_docker.images.lock import LockInputs, Resolver, target_platform

pytestmark = pytest.mark.integration


def _inputs(*requirements: str) -> LockInputs:
    return LockInputs(requirements=requirements, constraints=("six==1.16.0",),
                      python_version="3.11", platform=target_platform("3.11", False))


def _versions(lock) -> dict[str, str]:
    return {p.name: p.version for p in lock.packages}


def test_a_lock_is_kept_until_upgrade(tmp_path: Path) -> None:
    resolver = Resolver(tmp_path / "locks")
    first = resolver.lock("demo", _inputs("tabulate<0.9", "six"))
    assert _versions(first)["tabulate"].startswith("0.8.")
    assert _versions(first)["six"] == "1.16.0"           # the runtime's constraint holds
    assert (tmp_path / "locks" / "demo" / "pylock.toml").is_file()
    assert resolver.lock("demo", _inputs("tabulate<0.9", "six")) == first  # stored, not resolved

    # the pin is relaxed and a package added: tabulate keeps its version, the new one is locked
    relaxed = resolver.lock("demo", _inputs("tabulate", "six", "toolz"))
    assert _versions(relaxed)["tabulate"] == _versions(first)["tabulate"]
    assert "toolz" in _versions(relaxed)
    # on purpose only: the newest allowed
    upgraded = resolver.lock("demo", _inputs("tabulate", "six", "toolz"), upgrade=True)
    assert _versions(upgraded)["tabulate"] != _versions(first)["tabulate"]
    assert upgraded.pins() == tuple(sorted(f"{n}=={v}" for n, v in _versions(upgraded).items()))
    wheel = next(p for p in upgraded.packages if p.name == "tabulate")
    assert wheel.requirement == f"tabulate=={wheel.version}" and wheel.wheel_bytes


def test_a_conflict_with_the_runtime_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BuildError) as info:
        Resolver(tmp_path / "locks").lock("demo", _inputs("six>=1.17"))
    text = info.value.message + info.value.log_tail
    assert "plugin 'demo'" in text and "six" in text
    assert not (tmp_path / "locks" / "demo").exists()   # nothing stored
