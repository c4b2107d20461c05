"""``trainguard replay --plots DIR``: one PNG per group and a savings-vs-regret figure.

Per group: every curve (what it did without the policy, faded after the point where the policy
stopped it), the running-median threshold M(s) from the group's references at the end of the
replay (drawn only where at least ``min_completed`` references exist, i.e. where it acts), a
marker where each job was stopped, and the best job highlighted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")  # files only; no display on a server or in CI

import matplotlib.pyplot as plt

from .results import ReplayResult, SweepRow, sweep_row

if TYPE_CHECKING:
    from trainguard.core.median import ReferenceTable

TRADEOFF_FILE = "savings-vs-regret.png"


def plot_filename(group: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", group) + ".png"


def draw_threshold_and_scale(
    ax: Any, table: ReferenceTable | None, min_completed: int, label: str, values: list[float]
) -> None:
    """Draw the running-median threshold M(s) where it decides (>= ``min_completed``
    references), the stop marker's legend entry, and scale the y-axis on ``values`` (the curves
    that ran to the end) plus the threshold, so exploding curves do not flatten the rest."""
    if table is not None:
        pts = [
            (b, m)
            for b, (m, n) in zip(table.breakpoints, table.at_point, strict=True)
            if m is not None and n >= min_completed
        ]
        if pts:
            values = [*values, *(m for _, m in pts)]
            ax.step(
                [b for b, _ in pts],
                [m for _, m in pts],
                where="post",
                color="black",
                lw=2.0,
                label=label,
            )
    ax.plot([], [], marker="x", color="black", ls="none", label="stop")
    finite = sorted(v for v in values if math.isfinite(v))
    if finite:
        lo = finite[0]
        hi = finite[min(len(finite) - 1, int(0.95 * len(finite)))]
        pad = (hi - lo) * 0.05 or abs(hi) * 0.05 or 1.0
        ax.set_ylim(lo - pad, hi + pad)


def write_group_plot(result: ReplayResult, group: str, path: Path) -> Path:
    summary = result.groups[group]
    outcomes = sorted(
        (o for o in result.outcomes.values() if o.record.group == group),
        key=lambda o: o.record.job,
    )
    fig, ax = plt.subplots(figsize=(10, 6), dpi=100)
    values: list[float] = []  # scale: the curves that ran to the end, and the threshold
    stopped_label = survived_label = True
    for o in outcomes:
        r = o.record
        steps = [s for s, _ in r.curve]
        vals = [v if math.isfinite(v) else math.nan for _, v in r.curve]
        if not o.stopped and r.status == "Completed":
            values += vals
        best = r.job == summary.best_job
        if o.stopped and o.stop is not None and o.stop.step is not None:
            cut = o.stop.step
            kept = [(s, v) for s, v in zip(steps, vals, strict=True) if s <= cut]
            ax.plot(steps, vals, color="tab:red", alpha=0.18, lw=0.8, ls="--")
            ax.plot(
                [s for s, _ in kept],
                [v for _, v in kept],
                color="tab:red",
                alpha=0.7,
                lw=1.0,
                label="stopped (faded: what it would have done)" if stopped_label else None,
            )
            stopped_label = False
            at = dict(zip(steps, vals, strict=True)).get(cut, math.nan)
            ax.plot([cut], [at], marker="x", color="black", ms=7, mew=1.5, ls="none")
        else:
            ax.plot(
                steps,
                vals,
                color="tab:green" if best else "tab:blue",
                alpha=1.0 if best else 0.45,
                lw=2.2 if best else 0.9,
                label=(
                    f"best job {r.job}" if best else ("ran to the end" if survived_label else None)
                ),
            )
            if not best:
                survived_label = False
    table = result.thresholds.get(group) if result.policy.median.enabled else None
    draw_threshold_and_scale(
        ax,
        table,
        result.policy.median.min_completed,
        f"running-median threshold M(s) (end of replay, {table.jobs if table else 0} references)",
        values,
    )
    saved = summary.saved_fraction
    ax.set_title(
        f"{group}: {summary.stop_count} stop(s), "
        f"{'n/a' if saved is None else f'{100 * saved:.1f}%'} GPU hours saved, "
        f"best job {'survived' if summary.best_survived else 'STOPPED'} ({result.mode})"
    )
    ax.set_xlabel("step")
    ax.set_ylabel(f"{summary.objective} ({summary.direction})")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_tradeoff_plot(
    rows: Sequence[SweepRow], path: Path, *, current: SweepRow | None = None
) -> Path:
    fig, ax = plt.subplots(figsize=(8, 6), dpi=100)
    for r in rows:
        x = 100 * (r.mean_normalized_regret or 0.0)
        y = 100 * (r.saved_fraction or 0.0)
        mark = current is not None and (r.min_completed, r.grace) == (
            current.min_completed,
            current.grace,
        )
        ax.plot([x], [y], marker="o", ms=9 if mark else 6, color="tab:red" if mark else "tab:blue")
        ax.annotate(
            f"mc={r.min_completed}, g={r.grace:g}\n"
            f"best {r.groups_best_survived}/{r.groups_with_best}",
            (x, y),
            textcoords="offset points",
            xytext=(5, 4),
            fontsize=7,
        )
    ax.set_xlabel("mean normalized regret over groups (% of the best-to-median gap)")
    ax.set_ylabel("GPU hours saved (%)")
    ax.set_title("savings vs regret: median.min_completed (mc) x median.grace (g)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_plots(result: ReplayResult, rows: Sequence[SweepRow], directory: Path) -> list[Path]:
    """Write every group's PNG and the trade-off figure into ``directory``; returns the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = [write_group_plot(result, g, directory / plot_filename(g)) for g in result.groups]
    written.append(write_tradeoff_plot(rows, directory / TRADEOFF_FILE, current=sweep_row(result)))
    return written
