"""What every figure module shares: the bench context, the result record, statistics."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cjm_docker.config import CjmConfig
from cjm_docker.engine import Engine
from cjm_docker.host.manager import PluginManager

PLUGIN = "cjm-example-echo"


@dataclass
class Bench:
    """The run's shared state: one engine, one manager on the installed examples, 0.0.28."""

    config: CjmConfig
    engine: Engine
    manager: PluginManager
    image: str
    cps: Any            # figures.cps.CpsDriver
    quick: bool
    plugins_yaml: Path
    work: Path          # scratch folder under bench/out/

    def n(self, full: int, quick: int) -> int:
        return quick if self.quick else full


@dataclass
class Figure:
    """One row of the table: a value per side, lower or higher is better, and a goal."""

    key: str
    label: str
    unit: str
    better: str                      # "lower" or "higher"
    family: str                      # the chart panel it goes in
    ours: float | None
    floor: float | None = None
    cps: float | None = None
    goal: str = ""
    goal_met: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def ratio(self, other: float | None) -> float | None:
        """ours / other: below 1 is better for times, above 1 is better for rates."""
        if self.ours is None or not other:
            return None
        return self.ours / other

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "unit": self.unit, "better": self.better,
                "family": self.family, "ours": _round(self.ours), "floor": _round(self.floor),
                "cps": _round(self.cps), "ratio_floor": _round(self.ratio(self.floor)),
                "ratio_cps": _round(self.ratio(self.cps)), "goal": self.goal,
                "goal_met": self.goal_met, **({"extra": self.extra} if self.extra else {})}


def _round(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.4g}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def interleave(rounds: int, sides: dict[str, Callable[[], Any]]) -> dict[str, list[Any]]:
    """Run every side once a round, rotating the order, so drift hits all sides alike."""
    names = list(sides)
    out: dict[str, list[Any]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            out[name].append(sides[name]())
    return out
