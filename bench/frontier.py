"""Part 5: the stopping policies' frontier on the development curves, and the catch-up rule's
decision cost beside the median rule's.

Every row is replayed by ``trainguard replay``'s timeline engine (``replay`` with one-minute
ticks, enforce mode, the divergence rule on; a stopped job never becomes a reference) in
several launch orders, with the policy study's protocol (docs/policy.md):

- **HPO-style**: ``data/hpo_dev.jsonl`` (6 groups) and ``data/curves.jsonl`` (4 groups), each
  file on its own timeline, 5 launch orders; **LCDB A** / **LCDB B**:
  ``data/lcdb_dev_a.jsonl`` / ``data/lcdb_dev_b.jsonl`` (71 / 72 groups), 3 launch orders;
- order 0 is the file's own start times; order o > 0 deals each group's sorted start slots to
  the permutation ``numpy.random.default_rng([seed, o, *group-name bytes]).permutation(n)``
  (the study's draws, so that its figures are reproduced; ``trainguard calibrate`` draws its
  own with the standard library: the robustness row shows the default under those);
- cells: GPU time saved / share of (group, order) replays whose eventual best job survived /
  mean and max normalized regret over the replays (``replay_orders``' figures).

Rows (``ROW_SOURCES``, each a function of ``quick`` that returns its rows: append one to add
rows): the median rule (min_completed 3) at grace 0, 4, 6, 8; the lagged median (the study's
best reading of it: the job's best so far against the median of the references' best so far
by step s/2, minus 6 x the jitter, jitter = the median |second difference| / sqrt(6) pooled over
the references' curves, 2 reports in a row, min_completed 3; never a decision at step 1); the
catch-up rule's default (k 8, 3 reports) and its calibration ladder (k 2..16 at 3 and 2
reports); the peers through their own libraries, trial by trial, on the same clock and the
same launch orders (``bench/pruner_replay.py``): Optuna's MedianPruner, PercentilePruner (25),
SuccessiveHalvingPruner, HyperbandPruner and PatientPruner (its documentation's example:
MedianPruner, patience 1), and Ray Tune's ASHA and MedianStoppingRule, each at its defaults
(ASHA's max_t 100 is beyond every curve here; the median stopping rule's time is the job's
simulated seconds, its grace 60 s); and the hindsight oracle, which stops every job but the
group's eventual best at its first report, and the same once 3 of the group's jobs have
completed (the most a rule with min_completed 3 could save). The lagged median is not a rule
of the product: it runs through the engine's ``rules_for`` hook, on the same clock.

``dominance``: for each row, the rows that dominate it on every data set (at least as much
saved, the best kept at least as often, a mean normalized regret at most as large, and better
in one of them somewhere; the oracles dominate every rule and are left out as dominators);
``goal``: issue 24's goal, and where the default stands against it.

The decision cost: the fleet of ``bench.fleet`` (H completed jobs of 500 steps, 1,000 running
jobs at random steps), one steady tick as the evaluator works it (each job's ``CurveSummary``
takes the tick's new datapoint, then ``ObjectiveRules.stop_and_streak`` with the group's
``CatchUpModel`` and the job's ``WorseStreak``; the median rule's ``stop_summary`` against its
``ReferenceTable`` on the same fleet; Optuna's MedianPruner, gates off, through part 1's
harness on the same jobs), the fastest of a few ticks, garbage collection off.
"""

from __future__ import annotations

import importlib.util
import json
import math
import time
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

from trainguard.config import JobSettings, Policy
from trainguard.core.catchup import LADDER, NO_STREAK, CatchUpModel, CatchUpRule, WorseStreak
from trainguard.core.curves import median
from trainguard.core.decision import Decision
from trainguard.core.engine import ObjectiveRules, StopCheck
from trainguard.core.median import MedianStoppingRule, ReferenceTable
from trainguard.core.rule import GroupState, Verdict
from trainguard.core.summary import CurveSummary
from trainguard.core.values import frozen
from trainguard_tools.curvefile import CurveRecord, load_curves
from trainguard_tools.replay import OrdersResult, summarize_orders
from trainguard_tools.replay.engine import Revival, launch_orders, replay

from .decision_cost import _timed
from .fleet import make_fleet
from .peers import OptunaHarness, optuna_available
from .pruner_replay import OraclePeer, PeerFactory, optuna_peer, ray_peer, replay_peer

ROOT = Path(__file__).resolve().parent.parent
DATASETS: dict[str, tuple[tuple[str, ...], int]] = {
    "hpo": (("data/hpo_dev.jsonl", "data/curves.jsonl"), 5),
    "lcdb_a": (("data/lcdb_dev_a.jsonl",), 3),
    "lcdb_b": (("data/lcdb_dev_b.jsonl",), 3),
}
LABELS = {"hpo": "HPO-style", "lcdb_a": "LCDB A", "lcdb_b": "LCDB B"}
#: the study's targets: (saved, best kept) on HPO-style groups and on LCDB (judged on B)
TARGETS = {"hpo": (0.35, 1.0), "lcdb_b": (0.20, 0.95)}
#: issue 24's goal on every development set: (saved, best kept, mean normalized regret)
GOAL = {"hpo": (0.40, 1.0, 0.01), "lcdb_a": (0.25, 0.95, 0.01), "lcdb_b": (0.25, 0.95, 0.01)}
DEFAULT_KEY = "catchup_k8_c3"
SEED = 0
COST_GROUP_SIZES = (10, 100, 1000)
COST_RUNNING = 1000
QUICK_COST_GROUP_SIZES = (10, 1000)


def study_permutation(seed: int, order: int, group: str, jobs: int) -> list[int]:
    """The policy study's launch orders: numpy's generator seeded with (seed, order, group)."""
    import numpy as np

    return [int(k) for k in np.random.default_rng([seed, order, *group.encode()]).permutation(jobs)]


# ---- the lagged median (a baseline, not a rule of the product) ---------------------------------


@dataclass(frozen=True)
class LaggedTable:
    """The references' best-so-far curves (larger is better) and their pooled jitter."""

    steps: tuple[tuple[float, ...], ...]
    best: tuple[tuple[float | None, ...], ...]  # best finite value so far, None before one
    jitter: float
    jobs: int = 0
    average: str = "lagged"
    grace: float = 0.0


@frozen
class LaggedMedianRule(MedianStoppingRule):
    """Worse iff best so far < median of the references' best so far by step ``lag`` x s
    minus ``k`` x jitter (references with a finite value by then, at least min_completed)."""

    lag: float = 0.5
    k: float = 6.0
    consecutive: int = 2

    @property
    def table_key(self) -> str:
        return f"lagged:{self.lag:g}"

    def build_table(self, curves: Any) -> Any:
        sign = 1.0 if self.direction == "maximize" else -1.0
        steps, bests, pooled = [], [], []
        for curve in curves.values() if isinstance(curves, Mapping) else curves:
            running: float | None = None
            row: list[float | None] = []
            for _, v in curve:
                if math.isfinite(v) and (running is None or sign * v > running):
                    running = sign * v
                row.append(running)
            steps.append(tuple(s for s, _ in curve))
            bests.append(tuple(row))
            v = [y for _, y in curve if math.isfinite(y)]
            d1 = [v[i + 1] - v[i] for i in range(len(v) - 1)]
            pooled += [abs(d1[i + 1] - d1[i]) / math.sqrt(6) for i in range(len(d1) - 1)]
        return LaggedTable(
            tuple(steps), tuple(bests), median(pooled) if pooled else 0.0, len(steps)
        )

    def worse(self, summary: CurveSummary, table: LaggedTable) -> tuple[bool, float | None]:
        """(worse at this report, the threshold in the objective's units)."""
        step, best = summary.last_step, summary.best
        if step is None or best is None:
            return False, None
        target = self.lag * step + 1e-12
        column: list[float] = []
        for steps, bests in zip(table.steps, table.best, strict=True):
            i = bisect_right(steps, target)
            b = bests[i - 1] if i else None
            if b is not None:
                column.append(b)
        if len(column) < self.min_completed:
            return False, None
        sign = 1.0 if self.direction == "maximize" else -1.0
        bar = median(column) - self.k * table.jitter
        return sign * best < bar, sign * bar

    carries: ClassVar[bool] = True  # its reports-in-a-row counter, on the job's WorseStreak

    def judge(self, summary: CurveSummary, group: GroupState) -> LaggedVerdict | None:
        """The objective rules' verb: worse at ``consecutive`` reports in a row, counted on
        the job's WorseStreak (carried as the catch-up rule's is)."""
        table, step = group.references, summary.last_step
        if not isinstance(table, LaggedTable) or step is None:
            return None
        worse, bar = self.worse(summary, table)
        kept = group.streak or NO_STREAK
        count = kept.start(step) + 1 if worse else 0
        return LaggedVerdict(count >= self.consecutive, step, count, bar, table.jobs)

    def decision(
        self, job: str, summary: CurveSummary, verdict: Verdict, group: GroupState
    ) -> Decision:
        assert isinstance(verdict, LaggedVerdict)
        return Decision(
            job=job,
            rule="lagged-median",
            stop=True,
            step=verdict.step,
            value=summary.best,
            threshold=verdict.bar,
            references=verdict.references,
            reason=f"stop: best {summary.best} worse than {verdict.bar} at {verdict.count} reports",
        )

    def carry(self, streak: WorseStreak, verdict: Verdict) -> WorseStreak:
        assert isinstance(verdict, LaggedVerdict)
        return streak.record(verdict.step, verdict.count)


class LaggedVerdict(NamedTuple):
    stop: bool
    step: float
    count: int
    bar: float | None
    references: int


def lagged_rules(settings: JobSettings) -> ObjectiveRules:
    base = settings.rules
    return ObjectiveRules(
        median=LaggedMedianRule(direction=settings.direction, min_completed=3),
        divergence=base.divergence,
    )


# ---- the rows ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    family: str
    policy: Policy
    rules_for: Callable[[JobSettings], ObjectiveRules] | None = None
    settings: Mapping[str, Any] | None = None
    peer: PeerFactory | None = None  # decided by a peer's library instead of our rules
    revival: Revival | None = None  # evidence-driven revival (issue 23)


def _policy(**sections: Mapping[str, Any]) -> Policy:
    raw: dict[str, Any] = {"mode": "enforce", **{k: dict(v) for k, v in sections.items()}}
    return Policy.from_mapping(raw)


def median_rows(quick: bool) -> list[Row]:
    return [
        Row(
            f"median_g{g:g}",
            f"median, grace {g:g}",
            "median",
            _policy(median={"enabled": True, "grace": float(g)}, catchup=OFF),
            settings={"min_completed": 3, "grace": float(g)},
        )
        for g in ((0, 6) if quick else (0, 4, 6, 8))
    ]


def lagged_median_rows(quick: bool) -> list[Row]:
    return [
        Row(
            "lagged_median_d2",
            "lagged median (jitter: median abs. 2nd difference / √6)",
            "lagged median",
            _policy(catchup=OFF),
            rules_for=lagged_rules,
            settings={"lag": 0.5, "k": 6.0, "consecutive": 2, "min_completed": 3},
        )
    ]


def catchup_rows(quick: bool) -> list[Row]:
    out = []
    ladder = [(8.0, 3), (6.0, 3)] if quick else sorted(LADDER, key=lambda kc: (-kc[1], kc[0]))
    for k, c in ladder:
        key = f"catchup_k{k:g}_c{c}"
        label = ("**catch-up, DEFAULT**: " if key == DEFAULT_KEY else "catch-up ") + (
            f"k {k:g}, {c} reports"
        )
        out.append(
            Row(
                key,
                label,
                "catch-up",
                _policy(catchup={"noise_multiple": k, "consecutive": c}),
                settings={"noise_multiple": k, "consecutive": c, "min_completed": 3},
            )
        )
    return out


def _optuna(name: str, make: Callable[[], Any]) -> PeerFactory:
    return optuna_peer(make, f"Optuna {name}")


def _patient() -> Any:
    import warnings

    from optuna import pruners
    from optuna.exceptions import ExperimentalWarning

    with warnings.catch_warnings():  # PatientPruner is marked experimental
        warnings.simplefilter("ignore", ExperimentalWarning)
        return pruners.PatientPruner(pruners.MedianPruner(), patience=1)


def optuna_rows(quick: bool) -> list[Row]:
    """Optuna's pruners at their defaults (PercentilePruner's percentile and PatientPruner's
    patience have none: 25, and the documentation's example)."""
    if not optuna_available():
        return []
    from optuna import pruners as p

    made: list[tuple[str, str, Callable[[], Any], dict[str, Any]]] = [
        ("MedianPruner", "median", p.MedianPruner, {}),
        ("PercentilePruner", "percentile", lambda: p.PercentilePruner(25.0), {"percentile": 25}),
        ("SuccessiveHalvingPruner", "sh", p.SuccessiveHalvingPruner, {}),
        ("HyperbandPruner", "hyperband", p.HyperbandPruner, {}),
        ("PatientPruner", "patient", _patient, {"wrapped": "MedianPruner", "patience": 1}),
    ]
    if quick:
        made = made[:1]
    return [
        Row(
            f"optuna_{key}",
            f"Optuna {name}" + (f" ({', '.join(f'{k} {v}' for k, v in kw.items())})" if kw else ""),
            "Optuna",
            _policy(catchup=OFF),
            settings={"library": "optuna", "pruner": name, **kw},
            peer=_optuna(name, make),
        )
        for name, key, make, kw in made
    ]


def _ray_scheduler(name: str) -> Callable[[], Any]:
    def make() -> Any:
        from ray.tune import schedulers  # imported when a replay needs it: a few seconds

        return getattr(schedulers, name)()

    return make


def ray_rows(quick: bool) -> list[Row]:
    """Ray Tune's schedulers at their defaults."""
    if quick or importlib.util.find_spec("ray") is None:
        return []
    return [
        Row(
            f"ray_{key}",
            f"Ray Tune {name}",
            "Ray Tune",
            _policy(catchup=OFF),
            settings={"library": "ray[tune]", "scheduler": name},
            peer=ray_peer(_ray_scheduler(name), f"Ray Tune {name}"),
        )
        for name, key in (("ASHAScheduler", "asha"), ("MedianStoppingRule", "median"))
    ]


def oracle_rows(quick: bool) -> list[Row]:
    """The hindsight oracle, and the same once 3 of the group's jobs have completed: the most
    a rule that waits for 3 references (min_completed 3) could save on this timeline."""
    return [
        Row(
            ORACLE_KEY,
            "hindsight oracle (every job but the eventual best stopped at its first report)",
            "oracle",
            _policy(catchup=OFF),
            settings={},
            peer=OraclePeer,
        ),
        Row(
            f"{ORACLE_KEY}_after_3",
            "hindsight oracle once 3 jobs of the group have completed",
            "oracle",
            _policy(catchup=OFF),
            settings={"min_completed": 3},
            peer=lambda group: OraclePeer(group, min_completed=3),
        ),
    ]


OFF = {"enabled": False}
ORACLE_KEY = "oracle"


def revival_rows(quick: bool = False) -> list[Row]:
    """The default with evidence-driven revival (``replay --revive auto``, its defaults); the
    default without it is :func:`rows`' own."""
    default = next(r for r in catchup_rows(quick=True) if r.key == DEFAULT_KEY)
    revival = Revival()
    return [
        replace(
            default,
            key=f"{DEFAULT_KEY}_revive",
            label=f"catch-up default + revival ({revival.restart_minutes:g} min restart, "
            f"{revival.per_day} a group a day)",
            family="catch-up + revival",
            revival=revival,
        )
    ]


#: the frontier's rows, in the table's order: append a source to add rows
ROW_SOURCES: list[Callable[[bool], list[Row]]] = [
    median_rows,
    lagged_median_rows,
    catchup_rows,
    optuna_rows,
    ray_rows,
    revival_rows,
    oracle_rows,
]


def rows(quick: bool = False) -> list[Row]:
    return [row for source in ROW_SOURCES for row in source(quick)]


def _load(paths: Sequence[str]) -> list[list[CurveRecord]]:
    files = []
    for path in paths:
        records, errors = load_curves(ROOT / path)
        if errors:
            raise ValueError(f"{path}: {errors[:3]}")
        files.append(records)
    return files


def replay_dataset(
    files: Sequence[Sequence[CurveRecord]],
    row: Row,
    orders: int,
    permutation: Callable[[int, int, str, int], Sequence[int]] = study_permutation,
) -> OrdersResult:
    """One row on one data set: each file on its own timeline, in ``orders`` launch orders."""
    rules_for = row.rules_for or (lambda s: s.rules)
    peer = row.peer
    results = [
        replay(order, row.policy, rules_for=rules_for, revival=row.revival)
        if peer is None
        else replay_peer(order, row.policy, peer)
        for records in files
        for order in launch_orders(records, orders, SEED, permutation=permutation)
    ]
    return replace(summarize_orders(results, SEED), orders=orders)  # orders per file


def _scores(cell: Mapping[str, Any]) -> tuple[float, float, float]:
    """(saved, best kept, minus the mean regret): larger is better in each."""
    regret = cell.get("mean_normalized_regret")
    return (
        cell.get("saved_fraction") or 0.0,
        cell.get("best_kept") or 0.0,
        -math.inf if regret is None else -regret,
    )


def dominance(
    cells: Sequence[Mapping[str, Any]], names: Sequence[str], *, skip: str = "oracle"
) -> dict[str, list[str]]:
    """Row key -> the keys of the rows that dominate it on every data set of ``names``; rows
    of the family ``skip`` (the oracles, which dominate every rule) are not counted as
    dominating."""

    def better(other: Mapping[str, Any], row: Mapping[str, Any]) -> bool:
        pairs = [
            (a, b) for n in names for a, b in zip(_scores(other[n]), _scores(row[n]), strict=True)
        ]
        return all(a >= b - 1e-12 for a, b in pairs) and any(a > b + 1e-12 for a, b in pairs)

    return {
        row["key"]: [
            other["key"]
            for other in cells
            if other is not row and other.get("family") != skip and better(other, row)
        ]
        for row in cells
    }


def against_goal(row: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """One row against issue 24's goal, per data set."""
    out = {}
    for name, (saved, kept, regret) in GOAL.items():
        cell = row[name]
        s, k = cell.get("saved_fraction") or 0.0, cell.get("best_kept") or 0.0
        r = cell.get("mean_normalized_regret")
        out[name] = {
            "target_saved": saved,
            "target_best_kept": kept,
            "target_mean_regret": regret,
            "saved": s,
            "best_kept": k,
            "mean_regret": r,
            "saved_gap_points": round(100 * max(saved - s, 0.0), 2),
            "saved_met": s >= saved - 1e-12,
            "best_kept_met": k >= kept - 1e-12,
            "regret_met": r is not None and r <= regret + 1e-12,
        }
    return out


def _cell(r: OrdersResult) -> dict[str, Any]:
    out = r.to_dict()
    out.pop("seed", None)
    return out


# ---- the decision cost ------------------------------------------------------------------------


def decision_cost_group(h: int, running: int, repeats: int) -> dict[str, Any]:
    """One group size: the catch-up rule's model and tick beside the median rule's."""
    fleet = make_fleet(h, running, 500)
    names, curves = fleet.names, fleet.running
    model, build_s = _timed(lambda: CatchUpModel.build(fleet.completed, "minimize"))
    _, add_s = _timed(lambda: model.add(fleet.completed[0]))
    rule = ObjectiveRules(catchup=CatchUpRule(direction="minimize"))  # the default, for losses
    table = ReferenceTable.build(fleet.completed)
    median_rules = ObjectiveRules(median=MedianStoppingRule(min_completed=3))
    # each job's stored summary and counter as the previous tick left them (its whole history
    # judged report by report), then the tick's new datapoint
    stored, streaks = [], []
    for c in curves:
        summary, streak = CurveSummary(direction="minimize"), NO_STREAK
        for point in c[:-1]:
            summary = summary.add(*point)
            streak = rule.stop_and_streak("j", summary, catchup_model=model, streak=streak).streak
        stored.append(summary)
        streaks.append(streak)
    newest = [c[-1] for c in curves]

    def catchup_tick() -> list[StopCheck]:
        return [
            rule.stop_and_streak(n, s.add(*p), catchup_model=model, streak=k)
            for n, s, p, k in zip(names, stored, newest, streaks, strict=True)
        ]

    def median_tick() -> list[Decision | None]:
        return [
            median_rules.stop_summary(n, s.add(*p), table)
            for n, s, p in zip(names, stored, newest, strict=True)
        ]

    catchup_runs = [_timed(catchup_tick) for _ in range(repeats)]
    median_runs = [_timed(median_tick) for _ in range(repeats)]
    checks = catchup_runs[0][0]
    medians = median_runs[0][0]
    # the 'continue' path alone (most jobs at most ticks): the jobs each rule lets run
    going = [i for i, c in enumerate(checks) if c.stop is None]
    median_going = [i for i, d in enumerate(medians) if d is None]

    def catchup_continues() -> list[StopCheck]:
        return [
            rule.stop_and_streak(
                names[i], stored[i].add(*newest[i]), catchup_model=model, streak=streaks[i]
            )
            for i in going
        ]

    def median_continues() -> list[Decision | None]:
        return [
            median_rules.stop_summary(names[i], stored[i].add(*newest[i]), table)
            for i in median_going
        ]

    catchup_going_s = min(_timed(catchup_continues)[1] for _ in range(repeats))
    median_going_s = min(_timed(median_continues)[1] for _ in range(repeats))
    # the cheap path decides as the full one (a Decision for every job)
    assert rule.catchup is not None
    full = [
        rule.catchup.decide_summary(n, s.add(*p), model, k)
        for n, s, p, k in zip(names, stored, newest, streaks, strict=True)
    ]
    if [c.stop is not None for c in checks] != [d.stop for d in full]:
        raise AssertionError("the catch-up rule's cheap path and its decisions differ")
    n = len(curves)
    optuna: dict[str, float] = {}
    if optuna_available():  # Optuna's MedianPruner on the same fleet, gates off (part 1's)
        harness = OptunaHarness(fleet.completed)
        frozen = [harness.frozen(c) for c in curves]
        seconds = min(harness.timed_prunes(frozen)[1] for _ in range(repeats))
        optuna["optuna_us_per_decision"] = seconds / n * 1e6
    return optuna | {
        "completed_jobs": h,
        "running_jobs": n,
        "steps": 500,
        "catchup_model_build_s": build_s,
        "catchup_model_add_ms": add_s * 1e3,
        "catchup_model_json_bytes": len(json.dumps(model.to_dict())),
        "catchup_model_grid_points": len(model.gain),
        "median_table_json_bytes": len(json.dumps(table.to_dict())),
        "catchup_us_per_decision": min(t for _, t in catchup_runs) / n * 1e6,
        "median_us_per_decision": min(t for _, t in median_runs) / n * 1e6,
        "catchup_continue_us_per_decision": catchup_going_s / max(len(going), 1) * 1e6,
        "median_continue_us_per_decision": median_going_s / max(len(median_going), 1) * 1e6,
        "catchup_stop_fraction": sum(c.stop is not None for c in checks) / n,
        "median_stop_fraction": sum(d is not None for d in medians) / n,
        "repeats": repeats,
    }


# ---- the part ---------------------------------------------------------------------------------


def run(quick: bool = False, log: Callable[[str], None] = print) -> dict[str, Any]:
    started = time.perf_counter()
    data = {name: _load(paths) for name, (paths, _) in DATASETS.items()}
    orders = {name: (1 if quick else n) for name, (_, n) in DATASETS.items()}
    out_rows = []
    for row in rows(quick):
        cells: dict[str, Any] = {}
        for name in DATASETS:
            cells[name] = _cell(replay_dataset(data[name], row, orders[name]))
        out_rows.append(
            {"key": row.key, "label": row.label, "family": row.family, "settings": row.settings}
            | cells
        )
        log(
            f"frontier: {row.label}: "
            + " | ".join(
                f"{LABELS[n]} {100 * (cells[n]['saved_fraction'] or 0):.1f} % / "
                f"{100 * (cells[n]['best_kept'] or 0):.1f} %"
                for n in DATASETS
            )
        )
    frontier_s = time.perf_counter() - started
    default = next((r for r in out_rows if r["key"] == DEFAULT_KEY), None)
    gaps = {}
    if default is not None:
        for name, (saved, kept) in TARGETS.items():
            cell = default[name]
            gaps[name] = {
                "target_saved": saved,
                "target_best_kept": kept,
                "saved": cell["saved_fraction"],
                "best_kept": cell["best_kept"],
                "saved_gap_points": round(100 * (saved - (cell["saved_fraction"] or 0.0)), 2),
                "best_kept_met": (cell["best_kept"] or 0.0) >= kept - 1e-12,
                "saved_met": (cell["saved_fraction"] or 0.0) >= saved - 1e-12,
            }
    names = list(DATASETS)
    dominated_by = dominance(out_rows, names)
    goal = {
        "targets": {
            k: {"saved": s, "best_kept": b, "mean_regret": r} for k, (s, b, r) in GOAL.items()
        },
        "default": against_goal(default) if default is not None else {},
        "rows_meeting_it": [
            x["key"]
            for x in out_rows
            if all(
                c["saved_met"] and c["best_kept_met"] and c["regret_met"]
                for c in against_goal(x).values()
            )
        ],
    }
    # robustness: the default under calibrate's own launch orders (the standard library's)
    robustness = []
    if default is not None and not quick:
        default_row = next(r for r in rows() if r.key == DEFAULT_KEY)
        from trainguard_tools.replay.engine import shuffled

        cells = {
            name: _cell(replay_dataset(data[name], default_row, orders[name], permutation=shuffled))
            for name in DATASETS
        }
        robustness.append(
            {
                "key": "catchup_k8_c3_stdlib_orders",
                "label": "catch-up default, calibrate's launch orders (random.Random shuffles)",
            }
            | cells
        )
    sizes = QUICK_COST_GROUP_SIZES if quick else COST_GROUP_SIZES
    running = 200 if quick else COST_RUNNING
    repeats = 1 if quick else 5
    cost = []
    for h in sizes:
        log(f"frontier: decision cost, H={h}, N={running}")
        cost.append(decision_cost_group(h, running, repeats))
    return {
        "status": "ok",
        "seed": SEED,
        "datasets": {
            name: {
                "files": list(paths),
                "orders": orders[name],
                "groups": len({r.group for f in data[name] for r in f}),
                "jobs": sum(len(f) for f in data[name]),
            }
            for name, (paths, _) in DATASETS.items()
        },
        "rows": out_rows,
        "default": DEFAULT_KEY,
        "targets": {k: {"saved": s, "best_kept": b} for k, (s, b) in TARGETS.items()},
        "gaps": gaps,
        "dominated_by": dominated_by,
        "goal": goal,
        "robustness": robustness,
        "frontier_s": round(frontier_s, 1),
        "decision_cost": cost,
        "headline_completed_jobs": cost[-1]["completed_jobs"],
        "catchup_us_per_decision": cost[-1]["catchup_us_per_decision"],
        "median_us_per_decision": cost[-1]["median_us_per_decision"],
        "optuna_us_per_decision": cost[-1].get("optuna_us_per_decision"),
        "catchup_model_json_bytes": cost[-1]["catchup_model_json_bytes"],
    }
