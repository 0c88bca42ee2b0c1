"""What a scheduler decided about one request, and why."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cjm_docker.scheduling.reservations import Reservation


class Outcome(str, Enum):
    """Where a request ended."""

    ADMITTED = "admitted"   # it may run now; its needs are reserved until it finishes
    QUEUED = "queued"       # not now, but it could later (resources are held by others)
    REFUSED = "refused"     # not now, and the scheduler gave up (or it can never fit)


@dataclass(frozen=True)
class Shortage:
    """How much is missing for a request to fit (MiB)."""

    ram_mb: float = 0.0
    vram_mb: float = 0.0
    gpu_indices: tuple[int, ...] = ()   # the GPUs short of VRAM; () = whichever GPU

    def __bool__(self) -> bool:
        return self.ram_mb > 0 or self.vram_mb > 0

    def describe(self) -> str:
        parts = []
        if self.ram_mb > 0:
            parts.append(f"{self.ram_mb:.0f} MB of RAM")
        if self.vram_mb > 0:
            where = f" on GPU {','.join(map(str, self.gpu_indices))}" if self.gpu_indices else ""
            parts.append(f"{self.vram_mb:.0f} MB of VRAM{where}")
        return " and ".join(parts) or "nothing"


@dataclass(frozen=True)
class Admission:
    """A scheduler's decision.

    Attributes:
        outcome: admitted, queued or refused.
        reason: why, in one sentence (also when admitted).
        gpu_index: the GPU the request was counted against (None: no GPU need, or unknown).
        reservation: what was reserved for it (admitted only); released when it finishes.
        shortage: what is missing (not admitted); None when the scheduler does not say.
        retryable: False when neither eviction nor waiting can help (it can never fit).
    """

    outcome: Outcome
    reason: str
    gpu_index: int | None = None
    reservation: Reservation | None = None
    shortage: Shortage | None = None
    retryable: bool = True

    @property
    def admitted(self) -> bool:
        return self.outcome is Outcome.ADMITTED

    @classmethod
    def admit(cls, reason: str = "admitted", *, gpu_index: int | None = None,
              reservation: Reservation | None = None) -> Admission:
        return cls(Outcome.ADMITTED, reason, gpu_index, reservation)

    @classmethod
    def queue(cls, reason: str, *, shortage: Shortage | None = None,
              gpu_index: int | None = None) -> Admission:
        return cls(Outcome.QUEUED, reason, gpu_index, None, shortage)

    @classmethod
    def refuse(cls, reason: str, *, shortage: Shortage | None = None,
               gpu_index: int | None = None, retryable: bool = True) -> Admission:
        return cls(Outcome.REFUSED, reason, gpu_index, None, shortage, retryable)
