"""Load: 10,000 calls from 8 concurrent clients, against one plugin and against several.

Zero errors; host memory grows less than 10 % once warm; the worker's memory stays stable.
The figures are printed (``pytest -s``) and recorded in docs/reliability.md.
"""

from __future__ import annotations

import gc
import time
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest

from tests.reliability.conftest import WORKBENCH

pytestmark = [pytest.mark.integration, pytest.mark.reliability, pytest.mark.slow]

CALLS = 10_000
CLIENTS = 8
WARMUP = 500
MAX_HOST_GROWTH = 0.10
MAX_WORKER_GROWTH_MB = 10.0


def _rss_mb() -> float:
    gc.collect()
    return psutil.Process().memory_info().rss / 2**20


def _worker_rss_mb(mgr, name: str) -> float:
    return float(mgr.get_plugin(name).get_stats()["memory_rss_mb"])


def _hammer(mgr, names: list[str], calls: int) -> tuple[int, list[BaseException], float]:
    """``calls`` echo calls spread over ``names`` from CLIENTS threads; (ok, errors, seconds)."""
    errors: list[BaseException] = []

    def client(index: int) -> int:
        ok = 0
        for i in range(index, calls, CLIENTS):
            name = names[i % len(names)]
            try:
                result = mgr.execute_plugin(name, action="echo", text=str(i))
                ok += result["text"].endswith(str(i))
            except BaseException as exc:  # noqa: BLE001 - counted, reported below
                errors.append(exc)
        return ok

    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        ok = sum(pool.map(client, range(CLIENTS)))
    return ok, errors, time.perf_counter() - started


def _run_load(mgr, names: list[str]) -> dict:
    for name in names:
        mgr.load_plugin(name)
    _, warm_errors, _ = _hammer(mgr, names, WARMUP)
    assert not warm_errors, f"{len(warm_errors)} errors in the warm-up, first: {warm_errors[0]!r}"
    host_before = _rss_mb()
    workers_before = {n: _worker_rss_mb(mgr, n) for n in names}
    ok, errors, seconds = _hammer(mgr, names, CALLS)
    host_after = _rss_mb()
    workers_after = {n: _worker_rss_mb(mgr, n) for n in names}
    figures = {
        "plugins": len(names), "calls": CALLS, "clients": CLIENTS, "ok": ok,
        "errors": len(errors), "seconds": round(seconds, 2),
        "calls_per_s": round(CALLS / seconds), "mean_ms": round(seconds / CALLS * 1000 * CLIENTS, 2),
        "host_rss_mb": (round(host_before, 1), round(host_after, 1)),
        "host_growth_pct": round((host_after - host_before) / host_before * 100, 2),
        "worker_rss_mb": {n: (round(workers_before[n], 1), round(workers_after[n], 1))
                          for n in names},
    }
    print(f"\nLOAD {figures}")
    assert not errors, f"{len(errors)} errors, first: {errors[0]!r}"
    assert ok == CALLS
    assert host_after <= host_before * (1 + MAX_HOST_GROWTH), figures
    for name in names:
        assert workers_after[name] - workers_before[name] < MAX_WORKER_GROWTH_MB, figures
    return figures


def test_10000_calls_from_8_clients_against_one_plugin(manager):
    _run_load(manager, [WORKBENCH])


def test_10000_calls_from_8_clients_against_three_plugins(make_manager):
    names = [WORKBENCH, "cjm-test-workbench-b", "cjm-test-workbench-c"]
    mgr = make_manager(variants={names[1]: {}, names[2]: {}})
    _run_load(mgr, names)
