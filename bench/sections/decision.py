"""Part 1, decision cost (``bench/decision_cost.py``): its result and its section."""

from __future__ import annotations

from typing import Any, TypedDict

from .text import f, pct, prose, status, table

GOAL_RATIO = 100.0  # the goal: at least 100x Optuna's time per decision


class DecisionGroup(TypedDict, total=False):
    """One group size H: our figures, the peers', their agreement."""

    completed_jobs: int
    running_jobs: int
    steps: int
    ours: dict[str, Any]
    optuna: dict[str, Any]
    ray: dict[str, Any]
    agreement: dict[str, Any]
    ratio_vs_optuna: float | None
    ratio_vs_ray: float | None


class DecisionResult(TypedDict, total=False):
    groups: list[DecisionGroup]
    headline_completed_jobs: int
    ours_us_per_decision: float
    optuna_us_per_decision: float
    ray_us_per_decision: float
    ratio_vs_optuna: float | None
    ratio_vs_ray: float | None
    agreement: float
    agreement_decisions: int
    ray_skipped: str
    status: str


def share(a: dict[str, Any]) -> str:
    if not a:
        return "n/a"
    return f"{pct(a.get('fraction'))} ({f(a.get('identical'))}/{f(a.get('decisions'))})"


def _ratio(x: float | None, spec: str) -> str:
    return "n/a" if x is None else f"{x:{spec}}x"


def _time_rows(groups: list[DecisionGroup]) -> list[list[str]]:
    rows = []
    for g in groups:
        o, op, ry = g["ours"], g.get("optuna", {}), g.get("ray", {})
        ray_cell = (
            "skipped"
            if "skipped" in ry
            else f"{f(ry.get('us_per_decision'))} (n = {f(ry.get('decisions_timed'))})"
        )
        rows.append(
            [
                f(g["completed_jobs"]),
                f(o["table_build_s"] * 1e3),
                f(o["us_per_decision"]),
                f(o["tick_ms"], 2),
                f(o["tick_peak_kib"]),
                f(op.get("us_per_decision")),
                f(op.get("tick_ms")),
                ray_cell,
                f(ry.get("tick_ms_extrapolated")),
                _ratio(g.get("ratio_vs_optuna"), ".1f"),
                _ratio(g.get("ratio_vs_ray"), ".0f"),
            ]
        )
    return rows


def _part_rows(groups: list[DecisionGroup]) -> list[list[str]]:
    rows = []
    for g in groups:
        o, op = g["ours"], g.get("optuna", {})
        optuna_us = op.get("us_per_decision")
        threshold = None if optuna_us is None else optuna_us - op.get("best_so_far_us", 0.0)
        rows.append(
            [
                f(g["completed_jobs"]),
                f(o["threshold_lookup_us"], 2),
                f(o["best_so_far_us"]),
                f(o.get("whole_curve_us_per_decision")),
                f(op.get("best_so_far_us")),
                f(threshold),
                "n/a"
                if optuna_us is None
                else f"{(optuna_us - op['best_so_far_us']) / o['threshold_lookup_us']:.0f}x",
            ]
        )
    return rows


def _state_rows(groups: list[DecisionGroup]) -> list[list[str]]:
    rows = []
    for g in groups:
        o, op = g["ours"], g.get("optuna", {})
        study = op.get("study_bytes_retained")
        rows.append(
            [
                f(g["completed_jobs"]),
                f(o["table_bytes_retained"] / 1024),
                f(o["table_json_bytes"] / 1024),
                f(None if study is None else study / 2**20, 1),
            ]
        )
    return rows


def _agreement_rows(groups: list[DecisionGroup]) -> list[list[str]]:
    rows = []
    for g in groups:
        a = g.get("agreement", {})
        rows.append(
            [
                f(g["completed_jobs"]),
                share(a.get("optuna", {})),
                share(a.get("ray", {})),
                pct(a.get("optuna_semantic_difference")),
                pct(g["ours"].get("stop_fraction")),
                pct(g.get("optuna", {}).get("stop_fraction")),
                pct(g.get("ray", {}).get("stop_fraction")),
            ]
        )
    return rows


def headline(d: DecisionResult) -> list[list[str]]:
    ratio = d.get("ratio_vs_optuna")
    goal = "n/a" if ratio is None else ("met" if ratio >= GOAL_RATIO else "**not met**")
    h = f(d.get("headline_completed_jobs"))
    return [
        [f"ours, µs per decision (H = {h})", f(d.get("ours_us_per_decision"))],
        [f"Optuna MedianPruner, µs per decision (H = {h})", f(d.get("optuna_us_per_decision"))],
        [
            f"Ray Tune MedianStoppingRule, µs per decision (H = {h})",
            f(d.get("ray_us_per_decision")),
        ],
        [f"ratio vs Optuna (goal ≥ {GOAL_RATIO:.0f}x: {goal})", _ratio(ratio, ".1f")],
        ["ratio vs Ray Tune", _ratio(d.get("ratio_vs_ray"), ".0f")],
        [
            "agreement where semantics meet",
            f"{pct(d.get('agreement'))} of {f(d.get('agreement_decisions'))} decisions",
        ],
    ]


def render(d: DecisionResult) -> list[str]:
    out = ["## 1. Decision cost", ""]
    line = status(d)
    if line:
        return [*out, line, ""]
    groups = d.get("groups", [])
    if not groups:
        return out
    g0, head = groups[0], groups[-1]
    out += prose("decision", "intro", running=f(g0["running_jobs"]), steps=g0["steps"])
    out += ["", *table(TIME_HEADER, _time_rows(groups)), ""]
    out += prose("decision", "after_time", repeats=g0["ours"]["tick_repeats"])
    out += ["", *table(PARTS_HEADER, _part_rows(groups)), ""]
    out += prose("decision", "after_parts")
    out += ["", *table(STATE_HEADER, _state_rows(groups)), ""]
    out += prose("decision", "after_state", steps=head["steps"])
    out += ["", *table(AGREEMENT_HEADER, _agreement_rows(groups)), ""]
    out += [*prose("decision", "after_agreement"), ""]
    if d.get("ray_skipped"):
        out += [*prose("decision", "ray_skipped", reason=d["ray_skipped"]), ""]
    return out


TIME_HEADER = [
    "H",
    "ours: table build, ms (once per completion)",
    "ours µs/decision",
    "ours tick, ms",
    "ours tick peak, KiB",
    "Optuna µs/decision",
    "Optuna tick, ms",
    "Ray µs/decision",
    "Ray tick, ms (extrapolated)",
    "Optuna / ours",
    "Ray / ours",
]
PARTS_HEADER = [
    "H",
    "ours: threshold M(s) lookup, µs",
    "ours: job's best so far, µs",
    "ours: decide from the whole curve, µs",
    "Optuna: best so far, µs",
    "Optuna: the rest (threshold), µs",
    "threshold part, Optuna / ours",
]
STATE_HEADER = [
    "H",
    "ours: ReferenceTable in memory, KiB",
    "ours: its STATS item (JSON), KiB",
    "Optuna: in-memory study, MiB",
]
AGREEMENT_HEADER = [
    "H",
    "Optuna agreement",
    "Ray agreement",
    "ours vs Optuna on the original curves (differ by design)",
    "ours: stop share",
    "Optuna: prune share",
    "Ray: stop share (timed jobs)",
]
