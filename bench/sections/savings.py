"""Part 3, savings and regret (``bench/savings.py``): its result and its section."""

from __future__ import annotations

from typing import Any, TypedDict

from .text import f, pct, prose, status, table


class SavingsRow(TypedDict, total=False):
    """One policy replayed over the curve file."""

    stops: int
    gpu_hours_saved: float
    saved_fraction: float
    groups_best_survived: int
    groups_with_best: int | None
    usd_saved: float
    mean_normalized_regret: float
    max_normalized_regret: float
    min_completed: int
    grace: float


class SavingsResult(TypedDict, total=False):
    curves: str
    curves_committed: bool
    jobs: int
    gpu_hours_without: float
    rows: dict[str, SavingsRow]
    optuna_rows: dict[str, SavingsRow]
    optuna_replayed: str
    sweep: list[SavingsRow]
    default_policy_saved_fraction: float
    status: str


# the policies' names in the table (results key -> label)
NAMES = {
    "no_stopping": "no stopping",
    "default_policy": "default policy (catch-up, k 8, 3 reports, min_completed 3; divergence)",
    "median_rule": "median rule by name (min_completed 3, grace 0; catch-up off; "
    "divergence): the default before issue 12",
    "patience_alone": "patience rule alone (median and catch-up off; divergence on)",
    "optuna_default": "Optuna MedianPruner, defaults (n_startup_trials=5, n_warmup_steps=0)",
    "optuna_startup_3": "Optuna MedianPruner, n_startup_trials=3 (like our min_completed)",
    "optuna_startup_3_min_trials_3": "Optuna MedianPruner, n_startup_trials=3, n_min_trials=3",
}
HEADER = [
    "policy (enforce)",
    "stops",
    "GPU hours saved",
    "share saved",
    "groups whose best job survived",
    "dollars saved",
    "mean normalized regret",
    "max normalized regret",
]


def saving_row(name: str, r: SavingsRow | dict[str, Any]) -> list[str]:
    best = (
        f"{r['groups_best_survived']}/{r['groups_with_best']}"
        if r.get("groups_with_best") is not None
        else "all (nothing stopped)"
    )
    return [
        name,
        f(r.get("stops")),
        f(r.get("gpu_hours_saved")),
        pct(r.get("saved_fraction")),
        best,
        f(r.get("usd_saved"), 0, ""),
        pct(r.get("mean_normalized_regret", 0.0)),
        pct(r.get("max_normalized_regret", 0.0)),
    ]


def headline(s: SavingsResult) -> list[list[str]]:
    saved = s.get("default_policy_saved_fraction")
    rows = [
        ["default policy: share of GPU hours saved", "pending" if saved is None else pct(saved)]
    ]
    for key, label in (
        ("optuna_default", "Optuna MedianPruner (defaults) on the same timeline"),
        ("optuna_startup_3", "Optuna MedianPruner (n_startup_trials=3) on the same timeline"),
    ):
        row = (s.get("optuna_rows") or {}).get(key)
        if row:
            rows.append(
                [
                    f"{label}: share saved, best jobs kept",
                    f"{pct(row.get('saved_fraction'))}, "
                    f"{row.get('groups_best_survived')}/{row.get('groups_with_best')}",
                ]
            )
    return rows


def render(s: SavingsResult) -> list[str]:
    out = ["## 3. Savings and regret", ""]
    line = status(s)
    if line:
        return [*out, line, ""]
    curves = s.get("curves")
    out += prose(
        "savings",
        "intro",
        curves=curves,
        jobs=f(s.get("jobs")),
        hours=f(s.get("gpu_hours_without")),
    )
    out += [""]
    if not s.get("curves_committed"):
        out += [*prose("savings", "not_committed", curves=curves), ""]
    every = {**s.get("rows", {}), **(s.get("optuna_rows") or {})}
    out += table(HEADER, [saving_row(NAMES.get(k, k), r) for k, r in every.items()])
    out += ["", *prose("savings", "sweep"), ""]
    out += table(
        ["min_completed, grace", *HEADER[1:]],
        [
            saving_row(f"{r['min_completed']}, {f(float(r['grace']))}", r)
            for r in s.get("sweep", [])
        ],
    )
    out += ["", *prose("savings", "after_sweep", replayed=s.get("optuna_replayed")), ""]
    return out
