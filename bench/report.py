"""Rendering the figures: the markdown table, docs/benchmarks.md and the chart (pure but the PNG)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

COLUMNS = ("figure", "cjm-docker", "floor", "cjm-plugin-system 0.0.28", "ratio", "goal met?")


def _value(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit in ("chunks/s", "jobs/s") or value >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:.3g} {unit}"


def _failed(fig: dict[str, Any]) -> str:
    failed = fig.get("extra", {}).get("ours_failed")
    return f" (**{failed} failed to start**)" if failed else ""


def _ratio(fig: dict[str, Any]) -> str:
    parts = []
    for key, name in (("ratio_floor", "floor"), ("ratio_cps", "0.0.28")):
        ratio = fig.get(key)
        if ratio is not None:
            parts.append(f"{ratio:.3g}× {name}")
    if "fraction_of_cold" in fig.get("extra", {}):
        parts.append(f"{fig['extra']['fraction_of_cold']:.3g}× cold build")
    return "; ".join(parts) or "—"


def _goal(fig: dict[str, Any]) -> str:
    if not fig.get("goal"):
        return "—"
    return f"{'yes' if fig['goal_met'] else '**no**'} ({fig['goal']})"


def table(figures: dict[str, dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for fig in figures.values():
        unit = fig["unit"]
        lines.append("| " + " | ".join([
            fig["label"], _value(fig["ours"], unit) + _failed(fig), _value(fig["floor"], unit),
            _value(fig["cps"], unit), _ratio(fig), _goal(fig)]) + " |")
    return "\n".join(lines)


def chart(figures: dict[str, dict[str, Any]], path: Path) -> None:
    """Grouped bars, one panel per family, log scale where a panel spans a decade or more."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    families: dict[str, list[dict[str, Any]]] = {}
    for fig in figures.values():
        families.setdefault(fig["family"], []).append(fig)
    if not families:
        return
    sides = (("ours", "cjm-docker", "#1f77b4"), ("floor", "floor", "#7f7f7f"),
             ("cps", "cjm-plugin-system 0.0.28", "#d62728"))
    cols = 3
    rows = (len(families) + cols - 1) // cols
    plot, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.8 * rows), squeeze=False)
    for ax, (family, figs) in zip(axes.flat, families.items(), strict=False):
        width = 0.8 / len(sides)
        values = []
        for i, (side, name, colour) in enumerate(sides):
            xs = [j + (i - 1) * width for j in range(len(figs))]
            ys = [f[side] or 0 for f in figs]
            values += [y for y in ys if y]
            bars = ax.bar(xs, ys, width, label=name, color=colour)
            for bar, y in zip(bars, ys, strict=True):
                if y:
                    ax.annotate(f"{y:.3g}", (bar.get_x() + bar.get_width() / 2, y),
                                ha="center", va="bottom", fontsize=7)
        if values and max(values) / min(values) >= 10:
            ax.set_yscale("log")
        units = sorted({f["unit"] for f in figs})
        ax.set_ylabel(", ".join(units) + ("  (higher is better)" if figs[0]["better"] ==
                                         "higher" else "  (lower is better)"), fontsize=8)
        ax.set_xticks(range(len(figs)))
        ax.set_xticklabels([f["label"].replace(", ", ",\n") for f in figs], fontsize=7)
        ax.set_title(family)
    for ax in list(axes.flat)[len(families):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    plot.suptitle("cjm-docker vs the floor vs cjm-plugin-system 0.0.28 (one run, medians)")
    plot.tight_layout()
    plot.savefig(path, dpi=110)
    plt.close(plot)


def markdown(report: dict[str, Any], method: str) -> str:
    machine = report["machine"]
    return "\n".join([
        "# Benchmarks", "",
        "Regenerate (Docker needed; installs what it lacks, about 10 minutes):", "",
        "    .venv/bin/python bench/run.py", "",
        f"Last run: {report['when']}, {'quick' if report['quick'] else 'full'} mode, "
        f"{machine['cpus']} CPUs, load average {machine['load_avg']}, Python "
        f"{machine['python']}. Every figure below was measured in that one run, the sides in "
        "interleaved rounds; values are medians unless a percentile is named.", "",
        table(report["figures"]), "",
        "![cjm-docker vs the floor vs cjm-plugin-system 0.0.28](bench.png)", "",
        method.strip(), ""])
