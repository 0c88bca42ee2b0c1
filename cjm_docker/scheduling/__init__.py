"""Schedulers decide whether a plugin call may run now (names and meaning as in 0.0.x)."""

from cjm_docker.scheduling.base import PermissiveScheduler, ResourceScheduler

__all__ = ["ResourceScheduler", "PermissiveScheduler"]
