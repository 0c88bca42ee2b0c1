"""Schedulers decide whether a plugin call may run now (names and meaning as in 0.0.x).

    base.py             ResourceScheduler (0.0.x interface + ``admit``), PermissiveScheduler
    admission.py        Admission (admitted | queued | refused, reason), Shortage
    requirements.py     Requirements: a plugin's RAM / VRAM / GPU needs from its manifest
    reservations.py     ReservationLedger: needs of admitted calls, held until they finish
    capacity.py         assess() (pure) and CapacityScheduler, the base of the two below
    safety.py           SafetyScheduler: one check, refuse when it does not fit
    queue_scheduler.py  QueueScheduler: wait until it fits, up to a timeout
    placement.py        plan_placement(): which GPU a container gets (pure)
    eviction.py         choose_victims(): which idle plugins to stop to make room (pure)
"""

from cjm_docker.scheduling.admission import Admission, Outcome, Shortage
from cjm_docker.scheduling.base import PermissiveScheduler, ResourceScheduler
from cjm_docker.scheduling.capacity import CapacityScheduler, assess
from cjm_docker.scheduling.eviction import EvictionCandidate, choose_victims
from cjm_docker.scheduling.placement import Placement, choose_gpus, plan_placement
from cjm_docker.scheduling.queue_scheduler import QueueScheduler
from cjm_docker.scheduling.requirements import Requirements
from cjm_docker.scheduling.reservations import Reservation, ReservationLedger
from cjm_docker.scheduling.safety import SafetyScheduler

__all__ = [
    "Admission", "CapacityScheduler", "EvictionCandidate", "Outcome", "PermissiveScheduler",
    "Placement", "QueueScheduler", "Requirements", "Reservation", "ReservationLedger",
    "ResourceScheduler", "SafetyScheduler", "Shortage", "assess", "choose_gpus", "choose_victims",
    "plan_placement",
]
