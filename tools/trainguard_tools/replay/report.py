"""Terminal tables for ``trainguard replay``: the per-group summary, the stops, the sweep."""

from __future__ import annotations

from collections.abc import Sequence

from trainguard.core.curves import fmt

from .results import ReplayResult, ReplayTotals, SweepRow


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _num(x: float | None, digits: int = 2) -> str:
    return "n/a" if x is None else f"{x:,.{digits}f}"


def _survived(s: ReplayTotals) -> str:
    if s.best_survived is None:
        return "n/a"
    return f"{'yes' if s.best_survived else 'NO'} ({s.best_job} {fmt(s.best_value_without)})"


def _regret(s: ReplayTotals) -> str:
    if s.best_value_without is None:
        return "n/a"
    if s.regret is None:
        return "no survivor"
    rel = "" if s.normalized_regret is None else f" ({_pct(s.normalized_regret)})"
    return f"{fmt(s.regret)}{rel}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cells)
        ).rstrip()

    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]


STOP_COLUMNS = ["job", "rule", "step", "value", "threshold", "refs", "at min", "GPU-h", "outcome"]


def format_result(result: ReplayResult, *, stops: bool = True) -> str:
    """The human-readable replay report: one row per group, the overall row, then the stops."""
    p = result.policy
    rules = []
    if p.catchup.enabled:
        c = p.catchup
        rules.append(
            f"catch-up(k={fmt(c.noise_multiple)}, consecutive={c.consecutive}, "
            f"min_completed={c.min_completed})"
        )
    if p.median.enabled:
        rules.append(f"median(min_completed={p.median.min_completed}, grace={fmt(p.median.grace)})")
    if p.patience.enabled:
        rules.append(f"patience({p.patience.patience}, min_delta={fmt(p.patience.min_delta)})")
    if p.divergence.enabled:
        rules.append("divergence")
    o = result.overall
    lines = [
        f"trainguard replay: {o.jobs} jobs in {len(result.groups)} group(s); mode {result.mode}; "
        f"{' + '.join(rules) or 'no rules'}; tick {p.tick_minutes} min, "
        f"ingestion lag {fmt(p.ingestion_lag_minutes)} min",
    ]
    lines.append(
        "every job of the input (completed, failed and stopped alike) replayed once, in its own "
        "launch order, on one simulated timeline; saved = GPU hours saved / GPU hours without "
        "trainguard ('trainguard calibrate' replays only completed jobs in several launch "
        "orders, so its share differs)"
    )
    if result.mode == "observe":
        lines.append(
            "observe mode: nothing truncated; 'with' = what the reported stops would have saved"
        )
    lines.append("")
    header = [
        "group",
        "jobs",
        "stops",
        "div@end",
        "GPU-h w/o",
        "GPU-h with",
        "saved",
        "$ w/o",
        "$ saved",
        "best job survived",
        "regret",
    ]
    rows = []
    for s in result.groups.values():
        rows.append(
            [
                s.group or "",
                str(s.jobs),
                str(s.stop_count),
                str(s.diverged_at_end),
                _num(s.gpu_hours_without),
                _num(s.gpu_hours_with),
                _pct(s.saved_fraction),
                _num(s.usd_without),
                _num(s.usd_saved),
                _survived(s),
                _regret(s),
            ]
        )
    rows.append(
        [
            "overall",
            str(o.jobs),
            str(o.stop_count),
            str(o.diverged_at_end),
            _num(o.gpu_hours_without),
            _num(o.gpu_hours_with),
            _pct(o.saved_fraction),
            _num(o.usd_without),
            _num(o.usd_saved),
            f"{o.groups_best_survived}/{o.groups_with_best} groups",
            "" if o.mean_normalized_regret is None else f"mean {_pct(o.mean_normalized_regret)}",
        ]
    )
    lines += _table(header, rows, right={1, 2, 3, 4, 5, 6, 7, 8})
    if o.unknown_instance_jobs:
        lines.append(
            f"{o.unknown_instance_jobs} job(s) of unknown instance types left out of totals"
        )
    if stops:
        for s in result.groups.values():
            if not s.stops:
                continue
            lines += ["", f"{s.group}: stops ({s.direction} {s.objective})"]
            stop_rows = [
                [
                    e.job,
                    e.rule,
                    fmt(e.step),
                    fmt(e.value),
                    fmt(e.threshold),
                    str(e.references),
                    f"{e.minute:.1f}",
                    _num(e.gpu_hours_avoided),
                    "at end" if e.at_end else ("stopped" if e.enforced else "would stop"),
                ]
                for e in s.stops
            ]
            lines += [
                "  " + x
                for x in _table(
                    STOP_COLUMNS,
                    stop_rows,
                    right={2, 3, 4, 5, 6, 7},
                )
            ]
    for w in result.warnings:
        lines.append(f"warning: {w}")
    return "\n".join(lines)


def format_sweep(rows: Sequence[SweepRow]) -> str:
    """The savings/regret trade-off, one row per (min_completed, grace)."""
    header = [
        "min_completed",
        "grace",
        "stops",
        "GPU-h saved",
        "saved",
        "$ saved",
        "best survived",
        "mean norm. regret",
        "max norm. regret",
    ]
    body = [
        [
            str(r.min_completed),
            fmt(r.grace),
            str(r.stops),
            _num(r.gpu_hours_saved),
            _pct(r.saved_fraction),
            _num(r.usd_saved),
            f"{r.groups_best_survived}/{r.groups_with_best}",
            _pct(r.mean_normalized_regret),
            _pct(r.max_normalized_regret),
        ]
        for r in rows
    ]
    return "\n".join(
        [
            "sweep: the median rule (on, instead of the catch-up rule) at median.min_completed "
            "x median.grace; the catch-up rule's settings are `trainguard calibrate`'s",
            *_table(header, body, set(range(9))),
        ]
    )
