"""A candidate for issue 24 (policy study 3): the catch-up bound with **headroom gains**.

The catch-up rule allows a job the largest gain any completed job made after its step, U(s),
in the objective's units. A gain in units ignores where the job stands: a learner stuck near
chance that climbs to the top sets U(s) for every job, including jobs that stand far above
where it stood, and have far less room to climb. Where the objective has a natural bound B
(an accuracy <= 1, a loss or an error >= 0), a job's room is its headroom B - b, and a
reference's gain after s is a share of its own headroom then:

    shrink_r(s) = (B - F_r) / (B - b_r(s))   (the share of its headroom still left at its end)
    R(s) = min over the references that reach s of shrink_r(s)   (the best shrink on record)

The job, with best b at s, could at best end at B - R(s) (B - b): its headroom allowance is
(1 - R(s)) (B - b). The candidate allows min(U(s), headroom allowance): a job is worse iff
b + min(U(s), (1 - R(s))(B - b)) + k sigma < T, at ``consecutive`` reports in a row; the gates
are the catch-up rule's. It reads the group's ``CatchUpModel`` (T, U, n, sigma) and one more
number per grid point (R), and the bound, a fact of the objective a policy would declare
(None: the catch-up rule unchanged).

Two more allowances, each at most U(s), can be switched on beside it: ``below`` (the largest
gain of the references that stood at or below the job at s) and ``persist`` (where the
references' ranks at s persist to their finals, Kendall's tau >= ``persist``, their
``quantile`` gain).

It runs through ``trainguard replay``'s ``rules_for`` hook in the median rule's slot, as the
frontier's lagged median does (its 'table' is the group's :class:`HeadroomTable`, rebuilt from
the completed curves, in the order they completed, whenever one completes).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

from trainguard.config import JobSettings
from trainguard.core.catchup import NO_STREAK, CatchUpModel, WorseStreak, grid_index
from trainguard.core.curves import Curve, fmt
from trainguard.core.decision import Decision
from trainguard.core.engine import ObjectiveRules
from trainguard.core.median import MedianStoppingRule
from trainguard.core.rule import GroupState, Verdict
from trainguard.core.summary import CurveSummary
from trainguard.core.values import frozen

from .familygain import grid_gains


def standings(curve: Curve, sign: float) -> dict[int, tuple[float, float]]:
    """Grid index -> (the completed curve's best by that grid point, its gain after it), in
    the better direction (larger is better)."""
    points = [(float(s), float(v)) for s, v in curve]
    if not points or not math.isfinite(points[-1][1]):
        return {}
    final = sign * points[-1][1]
    return {idx: (final - g, g) for idx, g in grid_gains(points, sign)}


def shrinks(curve: Curve, sign: float, bound: float) -> dict[int, float]:
    """Grid index -> the share of the curve's headroom to ``bound`` at that grid point left at
    its end (values and the bound in the better direction)."""
    return {
        idx: max(bound - (best + g), 0.0) / (bound - best)
        for idx, (best, g) in standings(curve, sign).items()
        if bound - best > 0
    }


PERSIST_MIN = 5  # references a rank persistence is measured on


def kendall_tau(pairs: Sequence[tuple[float, float]]) -> float:
    """Kendall's tau-a between the pairs' first and second members (0 without a pair)."""
    concordant = discordant = 0
    for i, (x1, y1) in enumerate(pairs):
        for x2, y2 in pairs[i + 1 :]:
            sign = (x1 - x2) * (y1 - y2)
            concordant += sign > 0
            discordant += sign < 0
    return (concordant - discordant) / max(concordant + discordant, 1)


@dataclass(frozen=True)
class HeadroomTable:
    model: CatchUpModel
    shrink: Mapping[int, float]  # grid index -> R(s), the smallest share left on record
    jobs: int = 0
    #: grid index -> the references' (best by then, gain after it), best ascending
    stood: Mapping[int, tuple[tuple[float, float], ...]] = field(default_factory=dict)
    average: str = "headroom"
    grace: float = 0.0


class HeadroomVerdict(NamedTuple):
    stop: bool
    step: float
    count: int
    allowance: float
    threshold: float
    references: int


@frozen
class HeadroomRule(MedianStoppingRule):
    """The catch-up bound with the allowance min(U(s), (1 - R(s)) x headroom)."""

    bound: float | None = None  # the objective's bound in its own units (None: catch-up)
    k: float = 8.0
    consecutive: int = 3
    #: > 0: the gain is the largest of the references that stood at or below the job at s,
    #: when at least this many did (else U(s))
    below: int = 0
    #: > 0: where the references' ranks persist (Kendall's tau between their best by s and
    #: their final >= persist, over at least PERSIST_MIN of them), the gain is their
    #: ``quantile`` gain instead of the largest
    persist: float = 0.0
    quantile: float = 1.0

    @property
    def table_key(self) -> str:
        return f"headroom:{self.direction}:{self.bound}"

    def _sign(self) -> float:
        return 1.0 if self.direction == "maximize" else -1.0

    def build_table(self, curves: Any) -> Any:
        assert isinstance(curves, Mapping)
        model = CatchUpModel.build(curves, self.direction)
        shrink: dict[int, float] = {}
        if self.bound is not None:
            sign = self._sign()
            for curve in curves.values():
                for idx, r in shrinks(curve, sign, sign * self.bound).items():
                    shrink[idx] = min(r, shrink.get(idx, math.inf))
        stood: dict[int, list[tuple[float, float]]] = {}
        if self.below or self.persist:
            for curve in curves.values():
                for idx, bg in standings(curve, self._sign()).items():
                    stood.setdefault(idx, []).append(bg)
        return HeadroomTable(
            model, shrink, len(curves), {i: tuple(sorted(v)) for i, v in stood.items()}
        )

    def worse(self, summary: CurveSummary, table: HeadroomTable) -> HeadroomVerdict | None:
        step, best, latest = summary.last_step, summary.best, summary.last_value
        model = table.model
        if step is None:
            return None
        gate = HeadroomVerdict(False, step, 0, 0.0, math.nan, 0)  # counts 0, as catch-up's
        if best is None or not math.isfinite(best):
            return gate
        if latest is not None and not math.isfinite(latest):
            return gate
        gain, n = model.at(step)
        target = model.best_final
        if n < self.min_completed or gain is None or target is None:
            return gate._replace(references=n)
        sign = self._sign()
        b = sign * best
        allowance = max(gain, 0.0)
        r = table.shrink.get(grid_index(step))
        if self.bound is not None and r is not None:
            room = max(sign * self.bound - b, 0.0)
            allowance = min(allowance, (1.0 - min(r, 1.0)) * room)
        stood = table.stood.get(grid_index(step), ())
        if self.below:
            low = [g for br, g in stood if br <= b]
            if len(low) >= self.below:
                allowance = min(allowance, max(max(low), 0.0))
        persists = self.persist and len(stood) >= PERSIST_MIN
        if persists and kendall_tau([(br, br + g) for br, g in stood]) >= self.persist:
            gains = sorted((max(g, 0.0) for _, g in stood), reverse=True)
            rank = max(math.ceil((1.0 - self.quantile) * len(gains)), 1)
            allowance = min(allowance, gains[rank - 1])
        margin = self.k * model.sigma
        worse = b + allowance + margin < sign * target
        threshold = sign * (sign * target - allowance - margin)
        return HeadroomVerdict(worse, step, int(worse), allowance, threshold, n)

    carries: ClassVar[bool] = True

    def judge(self, summary: CurveSummary, group: GroupState) -> HeadroomVerdict | None:
        table = group.references
        if not isinstance(table, HeadroomTable):
            return None
        v = self.worse(summary, table)
        if v is None:
            return None
        kept = group.streak or NO_STREAK
        count = kept.start(v.step) + 1 if v.stop else 0
        return v._replace(stop=count >= self.consecutive, count=count)

    def decision(
        self, job: str, summary: CurveSummary, verdict: Verdict, group: GroupState
    ) -> Decision:
        assert isinstance(verdict, HeadroomVerdict)
        return Decision(
            job=job,
            rule="catch-up-headroom",
            stop=True,
            step=verdict.step,
            value=summary.best,
            threshold=verdict.threshold,
            references=verdict.references,
            reason=(
                f"stop: best {fmt(summary.best)} by step {fmt(verdict.step)} + at most "
                f"{fmt(verdict.allowance)} (the smaller of the largest gain after it and the "
                f"largest share of headroom any completed job closed) is worse than the best "
                f"final; it had to reach {fmt(verdict.threshold)} ({verdict.count} reports)"
            ),
        )

    def carry(self, streak: WorseStreak, verdict: Verdict) -> WorseStreak:
        assert isinstance(verdict, HeadroomVerdict)
        return streak.record(verdict.step, verdict.count)


#: the objectives' bounds: accuracy-like (maximized) at most 1, losses (minimized) at least 0
NATURAL_BOUNDS = {"maximize": 1.0, "minimize": 0.0}


def headroom_rules(
    k: float = 8.0,
    consecutive: int = 3,
    bounds: Mapping[str, float] = NATURAL_BOUNDS,
    below: int = 0,
    persist: float = 0.0,
    quantile: float = 1.0,
) -> Callable[[JobSettings], ObjectiveRules]:
    def build(settings: JobSettings) -> ObjectiveRules:
        d = settings.direction
        return ObjectiveRules(
            median=HeadroomRule(
                direction=d,
                min_completed=3,
                bound=bounds.get(d),
                k=k,
                consecutive=consecutive,
                below=below,
                persist=persist,
                quantile=quantile,
            ),
            divergence=settings.rules.divergence,
        )

    return build


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.candidates.headroom [SPEC ...]``: each SPEC (``k=8,c=3,bound=1,
    below=3,persist=0.9,quantile=0.75``; ``bound=1``: the objectives' natural bounds, ``max``:
    an accuracy's only, ``0``: none) on the frontier's three development sets and launch
    orders; one line each."""
    import sys

    from bench.frontier import DATASETS, LABELS, Row, _cell, _load, _policy, replay_dataset

    data = {n: _load(paths) for n, (paths, _) in DATASETS.items()}
    for spec in (sys.argv[1:] if argv is None else argv) or ["bound=0", "bound=1"]:
        kw = dict(x.split("=", 1) for x in spec.split(",") if x)
        rules = headroom_rules(
            float(kw.get("k", 8)),
            int(kw.get("c", 3)),
            {"1": NATURAL_BOUNDS, "max": {"maximize": 1.0}}.get(kw.get("bound", "1"), {}),
            int(kw.get("below", 0)),
            float(kw.get("persist", 0)),
            float(kw.get("quantile", 1)),
        )
        row = Row(spec, spec, "headroom", _policy(catchup={"enabled": False}), rules_for=rules)
        cells = [
            (n, _cell(replay_dataset(data[n], row, orders))) for n, (_, orders) in DATASETS.items()
        ]
        print(
            f"{spec}: "
            + " | ".join(
                f"{LABELS[n]} {100 * (c['saved_fraction'] or 0):.1f} / "
                f"{100 * (c['best_kept'] or 0):.1f} / {c['mean_normalized_regret']:.4f}"
                for n, c in cells
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
