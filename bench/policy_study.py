"""Issue 24's policy study: candidate default rules on the frontier's protocol.

``python -m bench.policy_study [--quick] [--only KEY ...] [--json out.json]``

Every candidate is replayed by ``trainguard replay``'s timeline engine exactly as
``bench/frontier.py`` replays its rows (one-minute ticks, enforce mode, the divergence rule on,
a stopped job never a reference; HPO-style = ``hpo_dev`` + ``curves.jsonl`` in 5 launch orders,
LCDB A and B in 3, the study's numpy launch orders), through the engine's ``rules_for`` hook;
no shared module is changed:

- a candidate (:class:`bench.candidates.familygain.FamilyGainRule` or
  :class:`bench.candidates.bound.ConvexBoundRule`, both in the objective rules' vocabulary:
  ``judge(summary, group)``, ``decision(...)``, carrying the job's ``WorseStreak`` as the
  catch-up rule does) is wrapped in :class:`CandidateRule`, which sits in the median rule's
  slot as the frontier's lagged median does: the engine walks it after the divergence rule
  (``ORDER``), hands it the job's counter and, as its ``references`` table, the group's
  :class:`StudyTable` (its ``CatchUpModel``, :class:`GainProfile`, spread and hulls), which
  the engine rebuilds from the group's completed curves whenever one completes;
- the job's rules are :class:`StudyRules`, the engine's ``ObjectiveRules`` walk unchanged but
  for one step: it puts the job's own facts (its family, the step of its first finite value)
  beside the group's table (:class:`JobView`), since neither the ``rules_for`` hook nor a
  rule's ``judge`` is told who the job is;
- the deployment's :class:`FamilyGainModel` (one per replay: it starts empty in every launch
  order) takes in each completed job as its group's table is rebuilt, with the job's family
  (:func:`family_of` of its hyperparameters) and its group's spread at that moment. A job's
  completion reaches it at the next decision of a job of its group (the same tick as a rule; a
  group with nothing left running adds nothing more, which only withholds evidence).

With ``warm=1`` a candidate's family model starts from the other LCDB file's whole history
(A's for B, B's for A): what a deployment that ran the same families before would have.
"""

from __future__ import annotations

import argparse
import json
import math
import time
import timeit
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import Any, NamedTuple

from bench.candidates.bound import ConvexBoundRule
from bench.candidates.familygain import (
    Allowance,
    CountsWorseReports,
    FamilyGainModel,
    FamilyGainRule,
    GainProfile,
    describe,
    family_of,
    grid_gains,
    spread,
)
from trainguard.config import JobSettings
from trainguard.core.catchup import (
    NO_STREAK,
    CatchUpModel,
    CatchUpRule,
    CatchUpVerdict,
    grid_index,
)
from trainguard.core.curves import Curve, Direction
from trainguard.core.decision import Decision
from trainguard.core.engine import ObjectiveRules, StopCheck
from trainguard.core.median import MedianStoppingRule
from trainguard.core.rule import GroupState, Verdict
from trainguard.core.summary import CurveSummary
from trainguard.core.values import frozen
from trainguard_tools.curvefile import CurveRecord
from trainguard_tools.replay import OrdersResult, summarize_orders
from trainguard_tools.replay.engine import Permutation, launch_orders, replay, shuffled

from .frontier import DATASETS, LABELS, SEED, _cell, _load, _policy, study_permutation

GOALS = {"hpo": (0.40, 1.0), "lcdb_a": (0.25, 0.95), "lcdb_b": (0.25, 0.95)}
MAX_REGRET = 0.01


class FamilyStore:
    """The deployment's family model during one replay (mutable: the replay's clock feeds it)."""

    def __init__(self, families: Mapping[str, str | None], warm: FamilyGainModel | None = None):
        self.families = families  # job -> family
        self.models: dict[Direction, FamilyGainModel] = {}
        if warm is not None:
            self.models[warm.direction] = warm
        self.seen: set[str] = set()

    def model(self, direction: Direction) -> FamilyGainModel:
        return self.models.get(direction) or FamilyGainModel(direction)

    def fold(self, curves: Mapping[str, Curve], direction: Direction, at: float | None) -> None:
        for job, curve in curves.items():
            if job in self.seen:
                continue
            self.seen.add(job)
            self.models[direction] = self.model(direction).add(self.families.get(job), curve, at)


@dataclass(frozen=True)
class StudyTable:
    """What the candidates read of a group, rebuilt from its completed curves (in the order
    they completed) whenever one completes: its catch-up model (None before its first
    completion, as the engine's), its gain profile, its spread and the hulls."""

    model: CatchUpModel | None
    profile: GainProfile
    spread: float | None
    jobs: int
    #: grid index -> the upper concave hull of the references' (best by then, gain after it)
    hulls: Mapping[int, tuple[tuple[float, float], ...]] = field(default_factory=dict)


class JobView(NamedTuple):
    """The group's :class:`StudyTable` with the job's own facts beside it: its family and the
    step of its first finite value (:class:`StudyRules` adds them)."""

    table: StudyTable
    family: str | None
    first_step: float


def upper_hull(points: Sequence[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    """The vertices of the upper concave majorant of ``points`` (x increasing)."""
    hull: list[tuple[float, float]] = []
    for p in sorted(set(points)):
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (x2 - x1) * (p[1] - y1) - (y2 - y1) * (p[0] - x1) >= 0:
                hull.pop()
            else:
                break
        hull.append(p)
    return tuple(hull)


def hull_at(hull: Sequence[tuple[float, float]], x: float) -> float | None:
    """The majorant at ``x`` (None outside the hull's x range)."""
    if not hull or x < hull[0][0] or x > hull[-1][0]:
        return None
    for (x1, y1), (x2, y2) in pairwise(hull):
        if x1 <= x <= x2:
            return y1 + (y2 - y1) * (x - x1) / (x2 - x1) if x2 > x1 else max(y1, y2)
    return hull[0][1]


@frozen
class CandidateRule(CountsWorseReports, MedianStoppingRule):
    """A candidate as one objective rule, in the median rule's slot as ``bench/frontier.py``'s
    lagged median is: its 'table' is the group's :class:`StudyTable` (``build_table``, which
    also feeds the family store), and :meth:`judge` hands the candidate (``rule``, or
    ``convex``) a ``GroupState`` with the table's catch-up model and the job's catch-up
    counter, with the allowance the candidate's options give."""

    rule: FamilyGainRule | None = None
    store: FamilyStore | None = field(default=None, compare=False, hash=False)
    use_family: bool = False
    standing: bool = False
    convex: ConvexBoundRule | None = None
    smooth: FamilyGainRule | None = None  # the rule for smooth groups (sigma / spread < rho)
    smooth_rho: float = 0.0

    @property
    def table_key(self) -> str:
        return f"family-gain:{self.direction}"

    def build_table(self, curves: Any) -> Any:
        assert isinstance(curves, Mapping)
        profile = GainProfile()
        for curve in curves.values():
            profile = profile.add(curve, self.direction)
        finals = [c[-1][1] for c in curves.values() if c]
        s = spread(finals, self.direction)
        if self.store is not None:
            self.store.fold(curves, self.direction, s)
        sign = 1.0 if self.direction == "maximize" else -1.0
        points: dict[int, list[tuple[float, float]]] = {}
        for curve in curves.values():
            pts = [(float(a), float(b)) for a, b in curve]
            if not pts or not math.isfinite(pts[-1][1]):
                continue
            final = sign * pts[-1][1]
            for idx, g in grid_gains(pts, sign):
                points.setdefault(idx, []).append((final - g, g))
        hulls = {i: upper_hull(p) for i, p in points.items()}
        # the engine's own model folds the same completions in the same order
        model = CatchUpModel.build(curves, self.direction) if curves else None
        return StudyTable(model, profile, s, len(curves), hulls)

    def judge(self, summary: CurveSummary, group: GroupState) -> CatchUpVerdict | None:
        """The candidate's verdict (None before the group's first completion)."""
        inputs = self._inputs(summary, group)
        if inputs is None:
            return None
        view, state, step = inputs
        allowance = self.allowance(view, step)
        if self.convex is not None:
            gain = None if allowance is None else allowance.gain
            return self.convex.judge(summary, state, first_step=view.first_step, gain=gain)
        rule, allowance = self._choice(summary, view, step, allowance)
        return rule.judge(summary, state, allowance)

    def decision(
        self, job: str, summary: CurveSummary, verdict: Verdict, group: GroupState
    ) -> Decision:
        """:meth:`judge`'s verdict written out by the candidate, with the same allowance."""
        inputs = self._inputs(summary, group)
        assert inputs is not None
        view, state, step = inputs
        allowance = self.allowance(view, step)
        if self.convex is not None:
            word = "gain" if self.convex.direction == "maximize" else "drop"
            return self.convex.decision(
                job,
                summary,
                verdict,
                state,
                first_step=view.first_step,
                gain=None if allowance is None else allowance.gain,
                source=None if allowance is None else describe(allowance, word, step),
            )
        rule, allowance = self._choice(summary, view, step, allowance)
        return rule.decision(job, summary, verdict, state, allowance)

    def _inputs(
        self, summary: CurveSummary, group: GroupState
    ) -> tuple[JobView, GroupState, float] | None:
        """The job's view, the ``GroupState`` the candidate reads, and the job's step."""
        view, step = group.references, summary.last_step
        if self.rule is None or not isinstance(view, JobView) or step is None:
            return None
        model = view.table.model
        if model is None:
            return None
        return view, GroupState(catchup=model, streak=group.streak), step

    def allowance(self, view: JobView, step: float) -> Allowance | None:
        assert self.rule is not None and view.table.model is not None
        families = family = None
        if self.use_family and self.store is not None:
            families = self.store.model(self.rule.direction)
            family = view.family
        return self.rule.allowance(
            view.table.model,
            step,
            group=view.table.profile,
            families=families,
            family=family,
            group_spread=view.table.spread,
        )

    def _choice(
        self, summary: CurveSummary, view: JobView, step: float, allowance: Allowance | None
    ) -> tuple[FamilyGainRule, Allowance | None]:
        """The family-gain rule that judges (``smooth`` in a smooth group) and its allowance
        (with ``standing``: at most the references' hull at the job's best)."""
        rule, table = self.rule, view.table
        assert rule is not None and table.model is not None
        if self.standing and summary.best is not None:
            sign = 1.0 if rule.direction == "maximize" else -1.0
            at = hull_at(table.hulls.get(grid_index(step), ()), sign * summary.best)
            if at is not None and allowance is not None and at < allowance.gain:
                allowance = Allowance(max(at, 0.0), 0, allowance.jobs)
        if self.smooth is not None:
            sp = table.spread
            if sp is not None and table.model.sigma < self.smooth_rho * sp:
                rule = self.smooth
        return rule, allowance


@dataclass(frozen=True)
class StudyRules(ObjectiveRules):
    """The engine's walk (divergence, then the candidate), with the job's own facts put beside
    its group's table: the replay's ``rules_for`` hook and a rule's ``judge`` are not told who
    the job is, :meth:`ObjectiveRules.judge` is."""

    families: Mapping[str, str | None] = field(default_factory=dict, compare=False, hash=False)
    first_steps: Mapping[str, float] = field(default_factory=dict, compare=False, hash=False)

    def judge(self, job: str, summary: CurveSummary, group: GroupState) -> StopCheck:
        table = group.references
        if isinstance(table, StudyTable):
            view = JobView(table, self.families.get(job), self.first_steps.get(job, 1.0))
            group = group._replace(references=view)
        return super().judge(job, summary, group)


@dataclass(frozen=True)
class Candidate:
    key: str
    label: str
    k: float = 8.0
    consecutive: int = 3
    min_completed: int = 3
    quantile: float = 1.0
    min_family: int = 10
    group_quantile: float = 1.0
    use_family: bool = False
    warm: bool = False
    convex: bool = False
    use_catchup: bool = True
    min_progress: float = 0.0
    standing: bool = False  # the gain allowed at the job's standing (the references' hull)
    smooth_rho: float = 0.0  # > 0: groups with sigma / spread below it use smooth_k/_consecutive
    smooth_k: float = 2.0
    smooth_consecutive: int = 2

    def rule(self, direction: Direction, smooth: bool = False) -> FamilyGainRule:
        return FamilyGainRule(
            direction=direction,
            min_completed=self.min_completed,
            noise_multiple=self.smooth_k if smooth else self.k,
            consecutive=self.smooth_consecutive if smooth else self.consecutive,
            quantile=self.quantile,
            min_family=self.min_family,
            group_quantile=self.group_quantile,
        )

    def settings(self) -> dict[str, Any]:
        out: dict[str, Any] = {"k": self.k, "consecutive": self.consecutive}
        if self.min_completed != 3:
            out["min_completed"] = self.min_completed
        if self.group_quantile < 1.0:
            out["group_quantile"] = self.group_quantile
        if self.standing:
            out["standing"] = "the references' upper hull of gain against standing"
        if self.smooth_rho:
            out["smooth"] = (
                f"sigma/spread < {self.smooth_rho:g}: k {self.smooth_k:g}, "
                f"{self.smooth_consecutive} reports"
            )
        if self.convex:
            out["convex"] = "min(U, own climb)" if self.use_catchup else "own climb only"
            if self.min_progress:
                out["min_progress"] = self.min_progress
        if self.use_family:
            out |= {"family_quantile": self.quantile, "min_family": self.min_family}
            if self.warm:
                out["warm"] = "the other LCDB file's history"
        return out


def rules_for(
    candidate: Candidate, store: FamilyStore, first_steps: Mapping[str, float]
) -> Callable[[JobSettings], ObjectiveRules]:
    def build(settings: JobSettings) -> ObjectiveRules:
        d = settings.direction
        convex = None
        if candidate.convex:
            convex = ConvexBoundRule(
                direction=d,
                min_completed=candidate.min_completed,
                noise_multiple=candidate.k,
                consecutive=candidate.consecutive,
                use_catchup=candidate.use_catchup,
                min_progress=candidate.min_progress,
            )
        return StudyRules(
            median=CandidateRule(
                direction=d,
                rule=candidate.rule(d),
                store=store,
                use_family=candidate.use_family,
                standing=candidate.standing,
                convex=convex,
                smooth=candidate.rule(d, smooth=True) if candidate.smooth_rho else None,
                smooth_rho=candidate.smooth_rho,
            ),
            divergence=settings.rules.divergence,
            families=store.families,
            first_steps=first_steps,
        )

    return build


POLICY = _policy(catchup={"enabled": True})


def families_of(files: Sequence[Sequence[CurveRecord]]) -> dict[str, str | None]:
    return {r.job: family_of(r.hyperparameters) for f in files for r in f}


def history_model(files: Sequence[Sequence[CurveRecord]]) -> FamilyGainModel | None:
    """The family model of every completed job of ``files`` (a deployment's past)."""
    model: FamilyGainModel | None = None
    groups: dict[str, list[CurveRecord]] = {}
    for f in files:
        for r in f:
            if r.status == "Completed":
                groups.setdefault(r.group, []).append(r)
    for records in groups.values():
        d = records[0].direction
        s = spread([r.curve[-1][1] for r in records], d)
        model = model or FamilyGainModel(d)
        for r in records:
            model = model.add(family_of(r.hyperparameters), r.curve, s)
    return model


def replay_candidate(
    files: Sequence[Sequence[CurveRecord]],
    candidate: Candidate,
    orders: int,
    warm: FamilyGainModel | None = None,
    seed: int = SEED,
    permutation: Permutation = study_permutation,
) -> OrdersResult:
    families = families_of(files)
    first_steps = {
        r.job: next((float(s) for s, v in r.curve if math.isfinite(v)), 1.0)
        for f in files
        for r in f
    }
    results = []
    for records in files:
        for order in launch_orders(records, orders, seed, permutation=permutation):
            store = FamilyStore(families, warm if candidate.warm else None)
            results.append(
                replay(order, POLICY, rules_for=rules_for(candidate, store, first_steps))
            )
    return replace(summarize_orders(results, seed), orders=orders)


#: every candidate of the study's table (docs/policy-study.md), in its order
STUDY = (
    # the default and the group's gain quantile instead of the largest gain
    "k=8",
    "group_quantile=0.9,k=8",
    "group_quantile=0.9,k=6",
    "group_quantile=0.9,k=10",
    "group_quantile=0.8,k=8",
    "group_quantile=0.75,k=6",
    "group_quantile=0.75,k=8",
    "group_quantile=0.75,k=12",
    "group_quantile=0.5,k=8",
    "group_quantile=0.5,k=12",
    "group_quantile=0.9,k=2,consecutive=2",
    "group_quantile=0.9,k=4,consecutive=2",
    "group_quantile=0.9,k=6,consecutive=2",
    "group_quantile=0.9,k=8,consecutive=2",
    "group_quantile=0.9,k=12,consecutive=2",
    "group_quantile=0.9,k=16,consecutive=2",
    "group_quantile=0.75,k=8,consecutive=2",
    # the family's gains (learned online in the replay; warm: from the other LCDB file)
    "use_family=1,quantile=1.0,k=8",
    "use_family=1,quantile=0.9,k=8",
    "use_family=1,quantile=0.9,k=4",
    "use_family=1,warm=1,quantile=0.9,k=8",
    "use_family=1,warm=1,quantile=0.9,k=4",
    "use_family=1,warm=1,quantile=1.0,k=4",
    # the optimistic convex bound: min(U(s), the job's own climb)
    "convex=1,k=4",
    "convex=1,k=8",
    "convex=1,k=10",
    "convex=1,k=12",
    "convex=1,k=16",
    "convex=1,k=12,consecutive=2",
    "convex=1,use_catchup=0,k=4",
    "convex=1,use_catchup=0,k=8",
    "convex=1,group_quantile=0.9,k=12",
    "convex=1,group_quantile=0.9,k=16",
    "convex=1,group_quantile=0.8,k=12",
    "convex=1,group_quantile=0.8,k=16",
    "convex=1,group_quantile=0.9,k=16,consecutive=2",
    "convex=1,min_progress=0.3,k=8",
    "convex=1,min_progress=0.5,k=4",
    "convex=1,min_progress=0.5,k=6",
    "convex=1,min_progress=0.5,k=8",
    "convex=1,min_progress=0.5,group_quantile=0.8,k=8",
    # the gain allowed at the job's standing: the references' upper hull of gain against best
    "standing=1,k=8",
    "standing=1,k=6",
    # a noise regime: k 2 at 2 reports where the group's noise is below rho x its spread
    "smooth_rho=0.02,k=8",
    "smooth_rho=0.02,group_quantile=0.9,k=8",
    "smooth_rho=0.01,group_quantile=0.9,k=8",
)


def candidates() -> list[Candidate]:
    return [parse_candidate(spec) for spec in STUDY]


def parse_candidate(spec: str) -> Candidate:
    """A candidate from ``key=value,...`` (Candidate's fields; the spec is its key)."""
    kw: dict[str, Any] = {}
    for part in spec.split(","):
        name, _, value = part.partition("=")
        kind = type(getattr(Candidate("", ""), name))
        kw[name] = bool(int(value)) if kind is bool else kind(value)
    return Candidate(spec, spec, **kw)


def meets(name: str, cell: Mapping[str, Any]) -> bool:
    saved, kept = GOALS[name]
    regret = cell["mean_normalized_regret"]
    return (
        (cell["saved_fraction"] or 0.0) >= saved - 1e-12
        and (cell["best_kept"] or 0.0) >= kept - 1e-12
        and regret is not None
        and regret <= MAX_REGRET
    )


def decision_cost(repeats: int = 5, number: int = 20000) -> dict[str, float]:
    """µs per decision (timeit, the fastest of ``repeats``) of each rule's verdict for one job
    at step 12 of a group of 1,000 completed 40-step curves (maximize) with a 20-family model,
    and the states' sizes in JSON bytes."""
    import random

    rng = random.Random(0)
    curves = []
    for _ in range(1000):
        a, b = rng.uniform(0.3, 0.9), rng.uniform(0.05, 0.5)
        curves.append(
            [(float(s), a + b * (1 - math.exp(-s / 8)) + rng.gauss(0, 0.01)) for s in range(1, 41)]
        )
    model = CatchUpModel.build(curves, "maximize")
    group = GainProfile()
    families = FamilyGainModel("maximize")
    for i, c in enumerate(curves):
        group = group.add(c, "maximize")
        families = families.add(f"fam{i % 20}", c, 0.2)
    summary = CurveSummary.of(curves[0][:12], "maximize")
    catchup = CatchUpRule(direction="maximize")
    family_rule = FamilyGainRule(direction="maximize", quantile=0.9)
    group_rule = FamilyGainRule(direction="maximize", group_quantile=0.9)
    convex = ConvexBoundRule(direction="maximize", noise_multiple=12.0)

    def family() -> None:
        a = family_rule.allowance(
            model, 12.0, group=group, families=families, family="fam3", group_spread=0.2
        )
        family_rule.check_summary(summary, model, NO_STREAK, a)

    def quantile() -> None:
        a = group_rule.allowance(model, 12.0, group=group)
        group_rule.check_summary(summary, model, NO_STREAK, a)

    timed: dict[str, Callable[[], object]] = {
        "catchup": lambda: catchup.check_summary(summary, model, NO_STREAK),
        "group_quantile": quantile,
        "family_gain": family,
        "convex_bound": lambda: convex.check_summary(summary, model, NO_STREAK),
    }
    out: dict[str, float] = {
        f"{name}_us_per_decision": round(
            min(timeit.repeat(fn, number=number, repeat=repeats)) / number * 1e6, 2
        )
        for name, fn in timed.items()
    }
    out |= {
        "catchup_model_json_bytes": len(json.dumps(model.to_dict())),
        "group_gain_profile_json_bytes": len(json.dumps(group.to_dict())),
        "family_model_json_bytes_20_families": len(json.dumps(families.to_dict())),
    }
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one launch order per data set")
    parser.add_argument("--only", nargs="*", help="candidate keys")
    parser.add_argument("--sets", nargs="*", default=list(DATASETS))
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--seed", type=int, default=SEED, help="launch orders' seed")
    parser.add_argument("--orders", type=int, help="launch orders per data set (default 5/3/3)")
    parser.add_argument(
        "--stdlib", action="store_true", help="calibrate's launch orders (random.Random)"
    )
    parser.add_argument("--cost", action="store_true", help="measure the decision cost too")
    parser.add_argument(
        "--try",
        dest="extra",
        nargs="*",
        default=[],
        help="ad-hoc candidates: key=value,... of Candidate's fields (e.g. k=4,use_family=1)",
    )
    args = parser.parse_args(argv)
    data = {name: _load(DATASETS[name][0]) for name in args.sets}
    lcdb = {n: _load(DATASETS[n][0]) for n in ("lcdb_a", "lcdb_b")}
    warm = {"lcdb_a": history_model(lcdb["lcdb_b"]), "lcdb_b": history_model(lcdb["lcdb_a"])}
    out = []
    chosen = [c for c in candidates() if args.only is None or c.key in args.only]
    for c in chosen + [parse_candidate(spec) for spec in args.extra]:
        row: dict[str, Any] = {"key": c.key, "label": c.label, "settings": c.settings()}
        started = time.perf_counter()
        for name in args.sets:
            orders = 1 if args.quick else (args.orders or DATASETS[name][1])
            perm = shuffled if args.stdlib else study_permutation
            cell = replay_candidate(data[name], c, orders, warm.get(name), args.seed, perm)
            row[name] = _cell(cell)
            row[name]["meets_goal"] = meets(name, row[name])
        out.append(row)
        print(
            f"{c.key:28s} "
            + " | ".join(
                f"{LABELS[n]} {100 * (row[n]['saved_fraction'] or 0):.1f} / "
                f"{100 * (row[n]['best_kept'] or 0):.1f} / "
                f"{row[n]['mean_normalized_regret'] or 0:.4f} / "
                f"{row[n]['max_normalized_regret'] or 0:.3f}"
                + ("*" if row[n]["meets_goal"] else "")
                for n in args.sets
            )
            + f"  ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
    result: dict[str, Any] = {"rows": out}
    if args.cost:
        result["decision_cost"] = decision_cost()
        print(result["decision_cost"])
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1)


if __name__ == "__main__":
    main()
