"""Part 5, the frontier of stopping policies (``bench/frontier.py``): its result and its
section."""

from __future__ import annotations

from typing import Any, TypedDict

from .text import f, pct, prose, sentence, status, table

LABELS = {"hpo": "HPO-style", "lcdb_a": "LCDB A", "lcdb_b": "LCDB B"}


class FrontierGap(TypedDict, total=False):
    """The default policy against the policy study's targets on one dataset."""

    saved: float
    target_saved: float
    saved_met: bool
    saved_gap_points: float
    best_kept: float
    target_best_kept: float
    best_kept_met: bool


class FrontierResult(TypedDict, total=False):
    seed: int
    datasets: dict[str, dict[str, Any]]
    frontier_s: float
    # each row: key, label, and one cell a dataset (saved_fraction, best_kept, regrets)
    rows: list[dict[str, Any]]
    default: str
    gaps: dict[str, FrontierGap]
    # row key -> the keys of the rows that dominate it on every data set
    dominated_by: dict[str, list[str]]
    # issue 24's goal: its targets, the default against them, the rows that meet it
    goal: dict[str, Any]
    robustness: list[dict[str, Any]]
    decision_cost: list[dict[str, Any]]
    headline_completed_jobs: int
    catchup_us_per_decision: float
    median_us_per_decision: float
    optuna_us_per_decision: float | None
    catchup_model_json_bytes: int
    status: str


def cells(cell: dict[str, Any]) -> str:
    return (
        f"{pct(cell.get('saved_fraction'))} / {pct(cell.get('best_kept'))} / "
        f"{f(cell.get('mean_normalized_regret'), 4)} / {f(cell.get('max_normalized_regret'), 3)}"
    )


def _gap(name: str, g: FrontierGap) -> list[str]:
    saved = "met" if g.get("saved_met") else f"missed by {f(g.get('saved_gap_points'), 1)} points"
    return prose(
        "frontier",
        "gap",
        label=LABELS.get(name, name),
        saved=pct(g.get("saved")),
        target_saved=pct(g.get("target_saved")),
        saved_verdict=saved,
        best_kept=pct(g.get("best_kept")),
        target_best_kept=pct(g.get("target_best_kept")),
        kept_verdict="met" if g.get("best_kept_met") else "not met",
    )


def _cost_row(c: dict[str, Any]) -> list[str]:
    return [
        f(c["completed_jobs"]),
        f"{f(c['catchup_model_build_s'] * 1e3)} ({f(c['catchup_model_add_ms'], 2)})",
        f"{f(c['catchup_model_json_bytes'])} ({f(c['catchup_model_grid_points'])})",
        f(c["median_table_json_bytes"]),
        f"{f(c['catchup_us_per_decision'])} ({pct(c['catchup_stop_fraction'])})",
        f(c["catchup_continue_us_per_decision"]),
        f"{f(c['median_us_per_decision'])} ({pct(c['median_stop_fraction'])})",
        f(c["median_continue_us_per_decision"]),
        f(c.get("optuna_us_per_decision")),
    ]


def _against_targets(name: str, g: FrontierGap) -> str:
    saved = "met" if g.get("saved_met") else f"**{f(g.get('saved_gap_points'), 1)} points short**"
    kept = "met" if g.get("best_kept_met") else "**not met**"
    return f"{LABELS.get(name, name)}: saved {saved}, best kept {kept}"


def headline(fr: FrontierResult) -> list[list[str]]:
    rows = []
    default = next((x for x in fr.get("rows", []) if x.get("key") == fr.get("default")), None)
    if default is not None:
        rows += [
            [
                "default policy (catch-up k 8, 3 reports): saved / best kept, "
                "HPO-style, LCDB A, LCDB B",
                ", ".join(
                    f"{pct(default[n].get('saved_fraction'))} / {pct(default[n].get('best_kept'))}"
                    for n in ("hpo", "lcdb_a", "lcdb_b")
                ),
            ],
            [
                "against the targets (35 % / 100 % HPO-style, 20 % / 95 % LCDB B)",
                "; ".join(_against_targets(n, g) for n, g in fr.get("gaps", {}).items()),
            ],
        ]
    if fr.get("catchup_us_per_decision") is not None:
        rows.append(
            [
                f"catch-up decision, µs (H = {f(fr.get('headline_completed_jobs'))}), beside "
                "the median rule's and Optuna's MedianPruner's; the group's model, bytes",
                f"{f(fr.get('catchup_us_per_decision'))} vs {f(fr.get('median_us_per_decision'))}"
                f" vs {f(fr.get('optuna_us_per_decision'))}; "
                f"{f(fr.get('catchup_model_json_bytes'))}",
            ]
        )
    return rows


def render(fr: FrontierResult) -> list[str]:
    out = ["## 5. Stopping policies: the frontier", ""]
    line = status(fr)
    if line:
        return [*out, line, ""]
    if not fr:
        return [*out, *prose("frontier", "not_run"), ""]
    ds = fr.get("datasets", {})
    names = [n for n in ("hpo", "lcdb_a", "lcdb_b") if n in ds]
    datasets = "; ".join(
        sentence(
            "frontier",
            "dataset",
            label=LABELS[n],
            files=", ".join(f"`{p}`" for p in ds[n]["files"]),
            groups=f(ds[n]["groups"]),
            jobs=f(ds[n]["jobs"]),
            orders=ds[n]["orders"],
        )
        for n in names
    )
    out += prose(
        "frontier", "intro", seed=fr.get("seed"), datasets=datasets, seconds=f(fr.get("frontier_s"))
    )
    out += [""]
    out += table(
        ["policy", *[LABELS[n] for n in names]],
        [[x["label"], *[cells(x[n]) for n in names]] for x in fr.get("rows", [])],
    )
    out += _dominance(fr)
    out += _goal(fr)
    gaps = fr.get("gaps", {})
    if gaps:
        out += ["", *prose("frontier", "gaps"), ""]
        for n, g in gaps.items():
            out += _gap(n, g)
    for x in fr.get("robustness", []):
        joined = "; ".join(f"{LABELS[n]} {cells(x[n])}" for n in names if n in x)
        out += ["", *prose("frontier", "robustness", label=x["label"], cells=joined)]
    cost = fr.get("decision_cost", [])
    if cost:
        out += ["", *prose("frontier", "cost_heading"), ""]
        out += table(COST_HEADER, [_cost_row(c) for c in cost])
        first = cost[0]
        out += [
            "",
            *prose(
                "frontier",
                "after_cost",
                steps=first["steps"],
                running=f(first["running_jobs"]),
                repeats=first["repeats"],
            ),
        ]
    out += ["", *prose("frontier", "limits"), ""]
    return out


def _dominance(fr: FrontierResult) -> list[str]:
    dominated = fr.get("dominated_by")
    if not dominated:
        return []
    label = {x["key"]: x["label"] for x in fr.get("rows", [])}
    oracles = {x["key"] for x in fr.get("rows", []) if x.get("family") == "oracle"}
    lines = [
        f"- {label.get(key, key)}: by {', '.join(label.get(k, k) for k in by)}"
        for key, by in dominated.items()
        if by
    ]
    free = [label.get(k, k) for k, by in dominated.items() if not by and k not in oracles]
    return [
        "",
        *prose("frontier", "dominance", undominated="; ".join(free) or "none"),
        "",
        *lines,
    ]


def _goal(fr: FrontierResult) -> list[str]:
    goal = fr.get("goal")
    if not goal or not goal.get("default"):
        return []
    cells = "; ".join(
        f"{LABELS.get(n, n)} {pct(c['saved'])} / {pct(c['best_kept'])} / "
        f"{f(c['mean_regret'], 4)} against {pct(c['target_saved'])} / "
        f"{pct(c['target_best_kept'])} / {f(c['target_mean_regret'], 2)}"
        + ("" if c["saved_met"] else f" ({f(c['saved_gap_points'], 1)} points short)")
        for n, c in goal["default"].items()
    )
    label = {x["key"]: x["label"] for x in fr.get("rows", [])}
    meeting = ", ".join(label.get(k, k) for k in goal.get("rows_meeting_it", [])) or "none"
    return ["", *prose("frontier", "goal", cells=cells, meeting=meeting)]


COST_HEADER = [
    "H",
    "model build, ms (once; `add` one: ms)",
    "model JSON, bytes (grid points)",
    "median table JSON, bytes",
    "catch-up µs/decision (stops)",
    "catch-up µs, 'continue' only",
    "median µs/decision (stops)",
    "median µs, 'continue' only",
    "Optuna MedianPruner µs/decision",
]
