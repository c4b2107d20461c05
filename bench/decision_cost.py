"""Part 1: one evaluator tick's decision work, trainguard vs Optuna vs Ray Tune, in one process.

For each group size H, a seeded fleet (``bench.fleet``): H completed jobs of S steps and N
running jobs at random steps. Ours: ``ReferenceTable.build`` once (timed apart: it runs once
per completion), then the tick, timed as the evaluator works in a steady tick: for each running
job, fold the tick's new datapoint into the job's stored ``CurveSummary`` (``add``) and ask
``ObjectiveRules(median=...).stop_summary`` for the stop that acts (the median rule alone, as
the peers have no divergence or patience rule). That call returns the cheap verdict for a
'continue' and builds the ``Decision`` with its reason for every stop, inside the timed region.
The same decisions from the whole curves (``MedianStoppingRule.decide``, a Decision for every
job: the replay's and ``trainguard decide``'s way) are timed too, and must agree. The peers
make the same decisions through the harnesses in ``bench.peers``.

Agreement is the fraction of identical stop/continue decisions where the semantics meet:
- Ray Tune (grace 0, completed references only, aligned steps) defines the threshold as ours
  does (median of running averages over steps <= s, best so far, strict): compared directly.
- Optuna compares with the raw value at the step, not a running average. Our rule is run a
  second time against ``raw_value_references`` (curves whose running average at every step
  equals the original raw value), which is Optuna's threshold expressed in our definition.
  On the original curves the two rules differ by design; that rate is reported too, as
  ``semantic_difference``, not as disagreement.
"""

from __future__ import annotations

import gc
import json
import time
import tracemalloc
from collections.abc import Callable
from typing import Any, TypeVar

from trainguard.core.curves import best_so_far
from trainguard.core.engine import ObjectiveRules
from trainguard.core.median import MedianStoppingRule, ReferenceTable
from trainguard.core.summary import CurveSummary

from .fleet import Fleet, make_fleet, raw_value_references
from .peers import OptunaHarness, RayHarness, optuna_available, ray_available

T = TypeVar("T")

GROUP_SIZES = (10, 100, 1000)
RUNNING = 1000
STEPS = 500
# Ray's decision scans every reference's whole history (O(H x S); its time per decision:
# bench/RESULTS.md), so at H = 1,000 it is timed on the first jobs of the seeded fleet only
# (their steps are uniform).
RAY_SAMPLE = {10: None, 100: None, 1000: 200}
QUICK = {"group_sizes": (10, 1000), "running": 100, "ray_sample": 20, "repeats": 1}


def _timed(fn: Callable[[], T]) -> tuple[T, float]:
    """Run ``fn`` with the garbage collector off (as ``timeit`` does), for every system alike."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        out = fn()
        return out, time.perf_counter() - start
    finally:
        if enabled:
            gc.enable()


def _peak_bytes(fn: Callable[[], object]) -> tuple[int, int]:
    """(peak, retained) bytes allocated by ``fn`` while tracemalloc watches (a separate run)."""
    gc.collect()
    tracemalloc.start()
    try:
        kept = fn()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del kept
    return peak, current


def _agreement(ours: list[bool], theirs: list[bool]) -> dict[str, Any]:
    n = min(len(ours), len(theirs))
    same = sum(a == b for a, b in zip(ours[:n], theirs[:n], strict=True))
    return {"decisions": n, "identical": same, "fraction": same / n if n else None}


def measure_ours(fleet: Fleet, repeats: int) -> tuple[dict[str, Any], list[bool]]:
    rule = MedianStoppingRule(min_completed=1)  # gates off, as the peers are configured
    rules = ObjectiveRules(median=rule)  # the evaluator's entry point, with the median rule only
    names, running = fleet.names, fleet.running

    table, build_s = _timed(lambda: ReferenceTable.build(fleet.completed))
    rules.stop_summary(names[0], CurveSummary.of(running[0]), table)  # warm-up

    # What the evaluator does for a job in a steady tick: fold the tick's new datapoint into the
    # CurveSummary kept on the job's item, then ask for the stop that acts (threshold: one
    # binary search; a Decision and its reason only for a stop).
    stored = [CurveSummary.of(c[:-1]) for c in running]
    newest = [c[-1] for c in running]

    def tick() -> list[Any]:
        return [
            rules.stop_summary(n, summary.add(*point), table)
            for n, summary, point in zip(names, stored, newest, strict=True)
        ]

    ticks = [_timed(tick) for _ in range(repeats)]
    stops = [d is not None for d in ticks[0][0]]
    tick_s = min(t for _, t in ticks)  # the least disturbed run (shared machine)

    # The same decisions from the whole curves (the replay's and `trainguard decide`'s way).
    def whole_curve_tick() -> list[Any]:
        return [rule.decide(n, c, table) for n, c in zip(names, running, strict=True)]

    whole = [_timed(whole_curve_tick) for _ in range(repeats)]
    if [d.stop for d in whole[0][0]] != stops:
        raise AssertionError("summary and whole-curve decisions differ")
    stop_decisions = [d for d in ticks[0][0] if d is not None]
    if stop_decisions != [d for d in whole[0][0] if d.stop]:
        raise AssertionError("summary and whole-curve stop decisions differ")
    whole_s = min(t for _, t in whole)

    # Where the time goes: folding the datapoint in; the threshold (one binary search); the
    # job's own best so far from the whole curve (what the summary saves).
    _, add_s = _timed(lambda: [s.add(*p) for s, p in zip(stored, newest, strict=True)])
    lasts = [c[-1][0] for c in running]
    _, lookup_s = _timed(lambda: [table.at(s) for s in lasts])
    _, best_s = _timed(
        lambda: [best_so_far(c, s, "minimize") for c, s in zip(running, lasts, strict=True)]
    )
    tick_peak, _ = _peak_bytes(tick)
    _, table_retained = _peak_bytes(lambda: ReferenceTable.build(fleet.completed))
    n = len(running)
    return {
        "table_build_s": build_s,
        "table_bytes_retained": table_retained,
        "table_json_bytes": len(json.dumps(table.to_dict())),
        "tick_ms": tick_s * 1e3,
        "tick_repeats": repeats,
        "us_per_decision": tick_s / n * 1e6,
        "whole_curve_us_per_decision": whole_s / n * 1e6,
        "summary_add_us": add_s / n * 1e6,
        "threshold_lookup_us": lookup_s / n * 1e6,
        "best_so_far_us": best_s / n * 1e6,
        "tick_peak_kib": tick_peak / 1024,
        "stop_fraction": sum(stops) / n,
    }, stops


def measure_optuna(fleet: Fleet, repeats: int) -> tuple[dict[str, Any], list[bool]]:
    harness, build_s = _timed(lambda: OptunaHarness(fleet.completed))
    frozen = [harness.frozen(c) for c in fleet.running]
    harness.prune(frozen[0])  # warm-up (numpy's first percentile call)
    runs = [harness.timed_prunes(frozen) for _ in range(repeats)]
    decisions = runs[0][0]
    tick_s = min(t for _, t in runs)
    best_us = harness.best_so_far_seconds(frozen) / len(frozen) * 1e6
    tick_peak, _ = _peak_bytes(lambda: harness.timed_prunes(frozen))
    _, study_retained = _peak_bytes(lambda: OptunaHarness(fleet.completed))
    n = len(frozen)
    return {
        "study_build_s": build_s,
        "study_bytes_retained": study_retained,
        "tick_ms": tick_s * 1e3,
        "tick_repeats": repeats,
        "us_per_decision": tick_s / n * 1e6,
        "best_so_far_us": best_us,
        "tick_peak_kib": tick_peak / 1024,
        "decisions_timed": n,
        "stop_fraction": sum(decisions) / n,
    }, decisions


def measure_ray(fleet: Fleet, sample: int | None) -> tuple[dict[str, Any], list[bool]]:
    harness, build_s = _timed(lambda: RayHarness(fleet.completed))
    k = len(fleet.running) if sample is None else min(sample, len(fleet.running))
    names, running = fleet.names[:k], fleet.running[:k]
    harness.timed_decide("warm-up", running[0])

    def run() -> list[tuple[bool, float]]:
        return [harness.timed_decide(n, c) for n, c in zip(names, running, strict=True)]

    results, _ = _timed(run)
    decisions = [stop for stop, _ in results]
    total = sum(t for _, t in results)
    one_peak, _ = _peak_bytes(lambda: harness.timed_decide(names[-1], running[-1]))
    return {
        "build_s": build_s,
        "us_per_decision": total / k * 1e6,
        "tick_ms_extrapolated": total / k * len(fleet.running) * 1e3,
        "decisions_timed": k,
        "sampled": k < len(fleet.running),
        "decision_peak_kib": one_peak / 1024,
        "stop_fraction": sum(decisions) / k,
    }, decisions


def agreement_with_optuna(fleet: Fleet, optuna_stops: list[bool]) -> dict[str, Any]:
    """Our rule against raw-value references vs Optuna on the original ones."""
    rule = MedianStoppingRule(min_completed=1)
    table = ReferenceTable.build([raw_value_references(c) for c in fleet.completed])
    ours = [rule.decide(n, c, table).stop for n, c in zip(fleet.names, fleet.running, strict=True)]
    return _agreement(ours, optuna_stops)


def run_group(h: int, running: int, ray_sample: int | None, repeats: int) -> dict[str, Any]:
    fleet = make_fleet(h, running, STEPS)
    row: dict[str, Any] = {"completed_jobs": h, "running_jobs": running, "steps": STEPS}
    ours, our_stops = measure_ours(fleet, repeats)
    row["ours"] = ours
    agreement: dict[str, Any] = {}
    if optuna_available():
        optuna_row, optuna_stops = measure_optuna(fleet, repeats)
        row["optuna"] = optuna_row
        row["ratio_vs_optuna"] = optuna_row["us_per_decision"] / ours["us_per_decision"]
        agreement["optuna"] = agreement_with_optuna(fleet, optuna_stops)
        agreement["optuna_semantic_difference"] = (
            1 - _agreement(our_stops, optuna_stops)["fraction"]
        )
    ok, why = ray_available()
    if ok:
        ray_row, ray_stops = measure_ray(fleet, ray_sample)
        row["ray"] = ray_row
        row["ratio_vs_ray"] = ray_row["us_per_decision"] / ours["us_per_decision"]
        agreement["ray"] = _agreement(our_stops, ray_stops)
    else:
        row["ray"] = {"skipped": why}
    row["agreement"] = agreement
    return row


def run(quick: bool = False, log: Callable[[str], None] = print) -> dict[str, Any]:
    """All group sizes; the headline keys are taken at the largest H."""
    sizes = QUICK["group_sizes"] if quick else GROUP_SIZES
    running = QUICK["running"] if quick else RUNNING
    repeats = QUICK["repeats"] if quick else 5
    groups = []
    for h in sizes:
        sample = QUICK["ray_sample"] if quick else RAY_SAMPLE.get(h)
        log(f"decision cost: H={h}, N={running}, S={STEPS}")
        groups.append(run_group(h, running, sample, repeats))
    head = groups[-1]
    compared = [a for g in groups for k, a in g["agreement"].items() if isinstance(a, dict)]
    decisions = sum(a["decisions"] for a in compared)
    identical = sum(a["identical"] for a in compared)
    ray_ok, ray_why = ray_available()
    return {
        "headline_completed_jobs": head["completed_jobs"],
        "ours_us_per_decision": head["ours"]["us_per_decision"],
        "optuna_us_per_decision": head.get("optuna", {}).get("us_per_decision"),
        "ray_us_per_decision": head.get("ray", {}).get("us_per_decision"),
        "ratio_vs_optuna": head.get("ratio_vs_optuna"),
        "ratio_vs_ray": head.get("ratio_vs_ray"),
        "agreement": identical / decisions if decisions else None,
        "agreement_decisions": decisions,
        "ray_skipped": None if ray_ok else ray_why,
        "groups": groups,
    }
