"""bench/run.py --quick end to end: every figure comes back, with all three sides where they exist."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIGURES = {
    "cold_start_s": ("floor", "cps"), "warm_p50_ms": ("floor", "cps"),
    "warm_p99_ms": ("floor", "cps"), "warm_p50_same_client_ms": ("floor", "cps"),
    "warm_p50_async_ms": ("floor", "cps"),
    "stream_sync_chunks_per_s": ("floor", "cps"),
    "stream_async_chunks_per_s": ("floor", "cps"), "file_dto_100mb_s": ("floor", "cps"),
    "idle_memory_mb": ("floor", "cps"), "fanout_20_s": ("floor", "cps"),
    "build_cold_s": (), "build_noop_s": (), "build_code_change_s": (),
    "queue_jobs_per_s": ("cps",),
}


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.timeout(420)
def test_quick_run_reports_every_figure(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--quick", "--data-dir",
         str(tmp_path / "data"), "--docs", str(tmp_path / "docs")],
        capture_output=True, text=True, cwd=REPO, timeout=400)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no JSON line:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    report = json.loads(lines[-1])
    assert report["errors"] == {}, report["errors"]
    assert set(report["figures"]) == set(FIGURES)
    for key, sides in FIGURES.items():
        figure = report["figures"][key]
        assert figure["ours"] and figure["ours"] > 0, key
        for side in sides:
            assert figure[side] and figure[side] > 0, (key, side)
    assert "| figure | cjm-docker |" in done.stdout
    assert (tmp_path / "docs" / "bench.png").stat().st_size > 10_000
    assert "| figure |" in (tmp_path / "docs" / "benchmarks.md").read_text()
