"""What one conformance run records: an outcome per check, per plugin."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Outcome(str, Enum):
    """How one check ended."""

    PASSED = "passed"    # the plugin did what the check asks
    FAILED = "failed"    # it did not (or did not within the check's timeout)
    SKIPPED = "skipped"  # the check could not apply (nothing declared, or the plugin is gone)


@dataclass(frozen=True)
class CheckResult:
    """One check against one plugin."""

    check: str
    outcome: Outcome
    seconds: float
    message: str = ""
    detail: str = ""   # e.g. the plugin's log tail or traceback, for JUnit's body


@dataclass
class PluginReport:
    """Every check run against one plugin, in order."""

    plugin: str
    results: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when no check failed (skips do not fail a plugin)."""
        return not self.failures

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.outcome is Outcome.FAILED]

    @property
    def seconds(self) -> float:
        return sum(r.seconds for r in self.results)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome is outcome)
