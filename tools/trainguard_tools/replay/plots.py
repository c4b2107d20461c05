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
from dataclasses import dataclass
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


@dataclass(frozen=True)
class CurveScale:
    """A curve chart's y-axis limits, and what is drawn of values beyond them."""

    lo: float
    hi: float

    def drawable(self, y: float) -> float:
        """``y``, or NaN (the line breaks) when it is more than ``FAR`` axis heights beyond
        it (a value that exploded): a segment to it would draw as a vertical line."""
        far = FAR * (self.hi - self.lo)
        return y if self.lo - far <= y <= self.hi + far else math.nan

    def clamp(self, y: float) -> tuple[float, str | None]:
        """Where a mark at ``y`` is drawn: itself, or the edge it is beyond (top/bottom)."""
        if y > self.hi:
            return self.hi, "top"
        if y < self.lo:
            return self.lo, "bottom"
        return y, None


OUTLIER_FENCE = 10.0  # middle halves (interquartile ranges) beyond which a value exploded
FAR = 3.0  # axis heights beyond the axis: a value not drawn (it exploded)
STOP_REACH = 3.0  # a stop widens the axis up to this many times the curves' range beyond it


def curve_scale(values: Sequence[float], stops: Sequence[float] = ()) -> CurveScale | None:
    """The y-axis of a curve chart: from the lowest of ``values`` (the curves that ran to the
    end, the threshold; without those more than ``OUTLIER_FENCE`` interquartile ranges out) to
    their 95th percentile (exploding curves do not flatten the rest),
    widened to every stop within ``STOP_REACH`` ranges of that; 5 % padding."""
    finite = sorted(v for v in values if math.isfinite(v))
    if finite:  # without the values of curves that exploded (far outside the middle half)
        q1, q3 = finite[len(finite) // 4], finite[(3 * len(finite)) // 4]
        fence = OUTLIER_FENCE * (q3 - q1)
        finite = [v for v in finite if q1 - fence <= v <= q3 + fence] or finite
    marks = sorted(v for v in stops if math.isfinite(v))
    if not finite:
        finite = marks
    if not finite:
        return None
    lo, hi = finite[0], finite[min(len(finite) - 1, int(0.95 * len(finite)))]
    span = hi - lo or abs(hi) or 1.0
    reach = [m for m in marks if lo - STOP_REACH * span <= m <= hi + STOP_REACH * span]
    lo, hi = min([lo, *reach]), max([hi, *reach])
    pad = (hi - lo) * 0.05 or abs(hi) * 0.05 or 1.0
    return CurveScale(lo - pad, hi + pad)


def draw_threshold_and_scale(
    ax: Any,
    table: ReferenceTable | None,
    min_completed: int,
    label: str,
    values: list[float],
    stops: Sequence[float] = (),
) -> CurveScale:
    """Draw the running-median threshold M(s) where it decides (>= ``min_completed``
    references) and scale the y-axis (:func:`curve_scale`) on ``values`` (the curves that ran
    to the end), the threshold and the ``stops`` (the stop markers' values)."""
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
    scale = curve_scale(values, stops) or CurveScale(*ax.get_ylim())
    ax.set_ylim(scale.lo, scale.hi)
    return scale


def write_group_plot(result: ReplayResult, group: str, path: Path) -> Path:
    summary = result.groups[group]
    outcomes = sorted(
        (o for o in result.outcomes.values() if o.record.group == group),
        key=lambda o: o.record.job,
    )
    fig, ax = plt.subplots(figsize=(10, 6), dpi=100)
    values: list[float] = []  # scale: the curves that ran to the end, and the threshold
    stop_values: list[float] = []  # and the stops
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
            stop_values.append(at)
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
        stop_values,
    )
    ax.plot([], [], marker="x", color="black", ls="none", label="stop")
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


TRADEOFF_SIZE = (10.0, 6.5)  # inches: the plot on the left, the labels in a column on its right
LABEL_FONT = 7.5  # points
LABEL_LINE = 1.35  # a label's line height, in font sizes


def _spread_labels(wanted: Sequence[float], gap: float) -> list[float]:
    """Positions (axes fractions) as close to ``wanted`` (ascending) as labels ``gap`` apart
    allow, kept within 0..1 where they fit."""
    placed: list[float] = []
    for w in wanted:  # upwards: each at least a gap above the previous one
        placed.append(max(w, placed[-1] + gap) if placed else max(w, 0.0))
    for i in range(len(placed) - 1, -1, -1):  # back down below the top, keeping the gaps
        ceiling = 1.0 if i == len(placed) - 1 else placed[i + 1] - gap
        placed[i] = min(placed[i], ceiling)
    return placed


def _variants(rows: Sequence[SweepRow]) -> str:
    """``mc=1 g=0, 2`` for the variants of one point (grouped by min_completed)."""
    by_mc: dict[int, list[str]] = {}
    for r in rows:
        by_mc.setdefault(r.min_completed, []).append(f"{r.grace:g}")
    return "; ".join(f"mc={mc} g={', '.join(gs)}" for mc, gs in by_mc.items())


def tradeoff_figure(
    rows: Sequence[SweepRow], *, current: SweepRow | None = None, current_label: str | None = None
) -> Any:
    """The savings-vs-regret figure: one dot per distinct (regret, savings) of the median
    rule's variants, each labelled in a column on the right (variants that land on the same
    point share a label; labels never overlap: leader lines join them to their dots); both axes
    start at 0. ``current``: the replayed policy's own row, a star labelled ``current_label``;
    the variant at the policy's own ``median`` setting is ringed. Both are in the legend."""
    fig, ax = plt.subplots(figsize=TRADEOFF_SIZE, dpi=100)
    fig.subplots_adjust(left=0.08, right=0.66, top=0.9, bottom=0.24)

    def xy(r: SweepRow) -> tuple[float, float]:
        return 100 * (r.mean_normalized_regret or 0.0), 100 * (r.saved_fraction or 0.0)

    points: dict[tuple[float, float], list[SweepRow]] = {}
    for r in rows:
        x, y = xy(r)
        points.setdefault((round(x, 2), round(y, 2)), []).append(r)
    shown = [*points, *([xy(current)] if current is not None else [])]
    x_top = max((x for x, _ in shown), default=0.0)
    y_top = max((y for _, y in shown), default=0.0)
    ax.set_xlim(0.0, x_top * 1.15 if x_top > 0 else 1.0)
    ax.set_ylim(0.0, max(y_top * 1.12, 1.0))
    ax.scatter(
        [x for x, _ in points],
        [y for _, y in points],
        s=36,
        color="tab:blue",
        zorder=3,
        clip_on=False,  # a dot at regret 0 sits on the axis, whole
        label="a median-rule variant: min_completed (mc), grace (g); labels on the right",
    )
    at_policy = (
        [r for r in rows if (r.min_completed, r.grace) == (current.min_completed, current.grace)]
        if current is not None
        else []
    )
    if at_policy:
        ax.scatter(
            *xy(at_policy[0]),
            s=170,
            facecolors="none",
            edgecolors="tab:red",
            linewidths=1.6,
            zorder=4,
            clip_on=False,
            label=f"the median rule at the policy's own setting "
            f"(mc={at_policy[0].min_completed}, g={at_policy[0].grace:g})",
        )
    if current is not None and current_label:
        ax.scatter(
            *xy(current),
            s=150,
            marker="*",
            color="tab:orange",
            edgecolors="black",
            linewidths=0.5,
            zorder=5,
            clip_on=False,
            label=current_label,
        )
    # the labels: one per point, in a column right of the axes, in the points' vertical order
    height_pt = ax.get_position().height * TRADEOFF_SIZE[1] * 72
    ordered = sorted(points.items(), key=lambda kv: (kv[0][1], kv[0][0]))
    _, y_max = ax.get_ylim()
    gap = LABEL_FONT * LABEL_LINE / height_pt
    for ((x, y), group), at in zip(
        ordered, _spread_labels([k[1] / y_max for k, _ in ordered], gap), strict=True
    ):
        best = group[0]
        regret = "" if x == 0 else f", regret {x:.1f}%"
        ax.annotate(
            f"{_variants(group)}: {y:.1f}% saved{regret}, "
            f"best kept {best.groups_best_survived}/{best.groups_with_best}",
            xy=(x, y),
            xytext=(1.03, at),
            textcoords="axes fraction",
            va="center",
            fontsize=LABEL_FONT,
            annotation_clip=False,
            arrowprops={"arrowstyle": "-", "color": "0.65", "lw": 0.6, "shrinkA": 0, "shrinkB": 4},
        )
    if x_top == 0:
        ax.text(
            0.5,
            0.03,
            "regret 0 for every variant: each group's best job survived them all",
            transform=ax.transAxes,
            ha="center",
            fontsize=9,
            color="0.3",
        )
    ax.set_xlabel("mean normalized regret over groups (% of the best-to-median gap)")
    ax.set_ylabel("GPU hours saved (%)")
    ax.set_title("savings vs regret: the median rule's min_completed (mc) x grace (g)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.11), fontsize=8, frameon=False)
    return fig


def write_tradeoff_plot(
    rows: Sequence[SweepRow],
    path: Path,
    *,
    current: SweepRow | None = None,
    current_label: str | None = None,
) -> Path:
    fig = tradeoff_figure(rows, current=current, current_label=current_label)
    fig.savefig(path)
    plt.close(fig)
    return path


def current_label(result: ReplayResult) -> str:
    """The legend entry of the replayed policy's own point: its objective rules, its numbers."""
    policy = result.policy
    rules = [
        name
        for name, on in (("catch-up", policy.catchup.enabled), ("median", policy.median.enabled))
        if on
    ]
    row = sweep_row(result)
    saved = 100 * (row.saved_fraction or 0.0)
    return (
        f"the replayed policy ({' + '.join(rules) or 'no objective'} rule"
        f"{'s' if len(rules) > 1 else ''}): {saved:.1f}% saved"
    )


def write_plots(result: ReplayResult, rows: Sequence[SweepRow], directory: Path) -> list[Path]:
    """Write every group's PNG and the trade-off figure into ``directory``; returns the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = [write_group_plot(result, g, directory / plot_filename(g)) for g in result.groups]
    written.append(
        write_tradeoff_plot(
            rows,
            directory / TRADEOFF_FILE,
            current=sweep_row(result),
            current_label=current_label(result),
        )
    )
    return written
