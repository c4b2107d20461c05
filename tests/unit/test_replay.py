"""The replay engine against small fleets whose outcome is computed by hand in each test."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from trainguard.config import CatchUpSettings, MedianSettings, PatienceSettings, Policy
from trainguard.core.catchup import CatchUpModel
from trainguard_tools.curvefile import CurveRecord
from trainguard_tools.replay import launch_orders, replay, replay_orders, sweep

pytestmark = pytest.mark.unit

PRICES = {"ml.test": {"gpus": 4, "usd_per_hour": 10.0}}


def rec(
    job: str,
    values: list[float | None],
    *,
    start: float = 0.0,
    mps: float = 1.0,
    first_step: int = 1,
    status: str = "Completed",
    group: str = "g",
    direction: str = "minimize",
    itype: str = "ml.test",
    count: int = 1,
) -> CurveRecord:
    curve = tuple(
        (float(first_step + i), float("nan") if v is None else float(v))
        for i, v in enumerate(values)
    )
    return CurveRecord(
        job=job,
        group=group,
        status=status,  # type: ignore[arg-type]
        objective="validation:loss",
        direction=direction,  # type: ignore[arg-type]
        start_minute=start,
        minutes_per_step=mps,
        instance_type=itype,
        instance_count=count,
        curve=curve,
    )


def policy(min_completed: int = 1, grace: float = 0.0, **kw: Any) -> Policy:
    """The median rule alone (the catch-up rule has its own tests below)."""
    return Policy(
        mode=kw.pop("mode", "enforce"),
        median=MedianSettings(True, min_completed, grace),
        catchup=kw.pop("catchup", CatchUpSettings(enabled=False)),
        prices=PRICES,
        **kw,
    )


def stops(result: Any) -> dict[str, tuple[str, float, float | None, float | None, int]]:
    """job -> (rule, minute, step, threshold, references)"""
    return {
        s.job: (s.rule, s.minute, s.step, s.threshold, s.references)
        for g in result.groups.values()
        for s in g.stops
    }


def test_a_completed_job_stops_a_worse_running_one_at_its_completion_tick() -> None:
    # A ends at minute 3 (three steps of one minute); B sees steps 1..3 by then: 2.0 > M(3) = 1.0
    result = replay([rec("a", [1.0] * 3), rec("b", [2.0] * 10)], policy())
    assert stops(result) == {"b": ("median", 3.0, 3.0, 1.0, 1)}
    assert result.outcomes["b"].end_with == 3.0
    assert result.outcomes["b"].curve_with() == ((1.0, 2.0), (2.0, 2.0), (3.0, 2.0))


def test_stagger_a_job_that_completes_later_is_not_a_reference_earlier() -> None:
    # a ends at 3 (reaches step 3), late ends at 8 with 0.5, x runs 10 steps at 0.8.
    # x is better than a's 1.0, and no completed job reaches steps 4..7; only when `late`
    # completes at minute 8 does a reference reach x's step 8: M = 0.5 < 0.8 -> stop at 8.
    # Had `late` counted before it completed, x would have stopped at minute 4.
    fleet = [rec("a", [1.0] * 3), rec("late", [0.5] * 8), rec("x", [0.8] * 10)]
    result = replay(fleet, policy())
    assert stops(result) == {"x": ("median", 8.0, 8.0, 0.5, 1)}


def test_ingestion_lag_delays_the_decision_by_the_lag() -> None:
    # b starts at 5 after a completed at 3; its step 1 is produced at minute 6
    fleet = [rec("a", [1.0] * 3), rec("b", [2.0] * 10, start=5.0)]
    now = stops(replay(fleet, policy()))
    lagged = stops(replay(fleet, policy(ingestion_lag_minutes=2.0)))
    assert now == {"b": ("median", 6.0, 1.0, 1.0, 1)}
    assert lagged == {"b": ("median", 8.0, 1.0, 1.0, 1)}


def test_decisions_happen_on_ticks() -> None:
    # b's step 1 is produced at minute 6 (step 2 at 11): with ticks every 5 minutes from the
    # first start (0) it is decided at the tick of 10, at step 1
    fleet = [rec("a", [1.0] * 3), rec("b", [2.0] * 4, start=1.0, mps=5.0)]
    assert stops(replay(fleet, policy())) == {"b": ("median", 6.0, 1.0, 1.0, 1)}
    assert stops(replay(fleet, policy(tick_minutes=5))) == {"b": ("median", 10.0, 1.0, 1.0, 1)}


def test_a_stopped_job_never_becomes_a_reference() -> None:
    # s (5.0) is stopped at minute 2 by a (1.0). x starts at 7 and reports steps 3 and 4 only:
    # a reaches step 2, so the only job that could be a reference at step 3 is s, had it
    # completed (at minute 6). Enforce: s was stopped -> x has no references, runs on.
    fleet = [
        rec("a", [1.0] * 2),
        rec("s", [5.0] * 6),
        rec("x", [6.0] * 2, start=7.0, first_step=3),
    ]
    enforce = replay(fleet, policy())
    assert stops(enforce) == {"s": ("median", 2.0, 2.0, 1.0, 1)}
    assert enforce.thresholds["g"].jobs == 2  # a and x (completed at 11), not s
    # Observe: nothing is truncated, so s completes at 6 and x is compared with it.
    observe = replay(fleet, policy(mode="observe"))
    assert stops(observe) == {
        "s": ("median", 2.0, 2.0, 1.0, 1),
        "x": ("median", 10.0, 3.0, 5.0, 1),
    }
    assert observe.thresholds["g"].jobs == 3
    assert all(not s.enforced for g in observe.groups.values() for s in g.stops)
    assert observe.outcomes["s"].end_with == 6.0  # not truncated
    assert observe.mode == "observe"


def test_stops_disabled_reports_like_observe() -> None:
    fleet = [rec("a", [1.0] * 3), rec("b", [2.0] * 10)]
    result = replay(fleet, replace(policy(), stops_disabled=True))
    (event,) = result.groups["g"].stops
    assert event.enforced is False and result.outcomes["b"].end_with == 10.0


def test_the_gate_protects_a_slow_starter_that_would_have_won() -> None:
    # w starts slowly and ends best (0.05); a converges fast to 0.8 and completes at 3.
    w = [3.0, 2.5, 2.0, 1.5, 1.0, 0.5, 0.3, 0.2, 0.1, 0.05]
    fleet = [rec("a", [1.0, 0.9, 0.8]), rec("w", w)]
    eager = replay(fleet, policy(min_completed=1)).groups["g"]
    # at minute 3: M(3) = (1.0 + 0.9 + 0.8) / 3 = 0.9; w's best 2.0 is worse -> stopped
    assert [(s.job, s.step, s.threshold) for s in eager.stops] == [("w", 3.0, pytest.approx(0.9))]
    assert eager.best_job == "w" and eager.best_value_without == 0.05
    assert eager.best_survived is False
    assert eager.best_job_with == "a" and eager.best_value_with == 0.8
    assert eager.regret == pytest.approx(0.75)
    # finals 0.8 and 0.05: median 0.425, gap to the best 0.375 -> 0.75 / 0.375
    assert eager.normalized_regret == pytest.approx(2.0)
    gated = replay(fleet, policy(min_completed=2)).groups["g"]
    assert gated.stops == [] and gated.best_survived is True and gated.regret == 0.0


def test_maximize_regret_is_positive_when_the_winner_is_stopped() -> None:
    w = [0.1, 0.2, 0.3, 0.5, 0.7, 0.9]
    fleet = [rec("a", [0.5, 0.55, 0.6], direction="maximize"), rec("w", w, direction="maximize")]
    g = replay(fleet, policy()).groups["g"]
    # M(3) = 0.55 and w's best 0.3 is worse (lower) -> stopped; regret = 0.9 - 0.6
    assert [(s.job, s.step) for s in g.stops] == [("w", 3.0)]
    assert g.best_survived is False and g.regret == pytest.approx(0.3)


def test_gpu_hours_and_dollars() -> None:
    # ml.test: 4 GPUs, $10/h. a: 2 instances, 3 steps of 10 min (0.5 h); s: 2 instances, 6 steps
    # (1 h), stopped at minute 30 by a. A CPU job (ml.m5.xlarge: 0 GPUs, $0.23/h) and a job of
    # an unknown type run in another group.
    fleet = [
        rec("a", [1.0] * 3, mps=10.0, count=2),
        rec("s", [5.0] * 6, mps=10.0, count=2),
        rec("cpu", [1.0] * 6, mps=10.0, group="h", itype="ml.m5.xlarge"),
        rec("mystery", [1.0] * 6, mps=10.0, group="h", itype="ml.unknown"),
    ]
    result = replay(fleet, policy())
    g = result.groups["g"]
    assert (g.gpu_hours_without, g.gpu_hours_with) == (pytest.approx(12.0), pytest.approx(8.0))
    assert g.saved_fraction == pytest.approx(1 / 3)
    assert (g.usd_without, g.usd_saved) == (pytest.approx(30.0), pytest.approx(10.0))
    (event,) = g.stops
    assert (event.minute, event.gpu_hours_avoided, event.usd_avoided) == (
        30.0,
        pytest.approx(4.0),
        pytest.approx(10.0),
    )
    h = result.groups["h"]
    assert h.gpu_hours_without == 0.0 and h.saved_fraction is None
    assert h.usd_without == pytest.approx(0.23)
    assert h.unknown_instance_jobs == 1 and result.overall.unknown_instance_jobs == 1
    assert any("ml.unknown" in w for w in result.warnings)
    assert result.overall.gpu_hours_without == pytest.approx(12.0)
    assert result.overall.usd_saved == pytest.approx(10.0)


def test_a_failed_job_ending_in_nan_is_reported_as_diverged_at_its_end() -> None:
    fleet = [rec("a", [1.0] * 2), rec("f", [3.0, None], status="Failed", start=5.0)]
    g = replay(fleet, policy(min_completed=5)).groups["g"]
    (event,) = g.stops
    assert (event.job, event.rule, event.at_end, event.minute) == ("f", "diverged", True, 7.0)
    assert event.gpu_hours_avoided == 0.0 and g.gpu_hours_saved == 0.0
    assert g.stop_count == 0 and g.diverged_at_end == 1


def test_divergence_stops_a_job_whose_nan_comes_before_its_end() -> None:
    fleet = [rec("f", [3.0, None, None, None], status="Failed")]
    g = replay(fleet, policy()).groups["g"]
    (event,) = g.stops
    assert (event.rule, event.minute, event.at_end, event.enforced) == (
        "diverged",
        2.0,
        False,
        True,
    )
    assert g.gpu_hours_saved == pytest.approx(4 * 2 / 60)


def test_a_failed_job_is_never_a_reference() -> None:
    fleet = [rec("f", [1.0] * 5, status="Failed"), rec("b", [2.0] * 10)]
    result = replay(fleet, policy())
    # f ends at 5 with 1.0 everywhere; as a reference it would stop b (2.0) at minute 5
    assert stops(result) == {} and result.thresholds["g"].jobs == 1  # b only


def test_patience_rule_from_the_policy() -> None:
    pol = replace(
        policy(min_completed=99), patience=PatienceSettings(enabled=True, patience=2, min_delta=0)
    )
    # best 1.0 at step 1, then two measurements without improvement -> stop at step 3
    g = replay([rec("p", [1.0, 1.5, 1.2, 0.5, 0.4])], pol).groups["g"]
    assert [(s.job, s.rule, s.step) for s in g.stops] == [("p", "patience", 3.0)]


def test_per_job_tag_overrides_are_applied() -> None:
    # the job asks for min-completed 2 through its tags: one reference is not enough
    tagged = replace(rec("b", [2.0] * 10), tags={"trainguard:min-completed": "2"})
    result = replay([rec("a", [1.0] * 3), tagged], policy(min_completed=1))
    assert stops(result) == {}


def test_empty_fleet() -> None:
    result = replay([], policy())
    assert result.overall.jobs == 0 and result.groups == {} and result.ticks == 0


def test_sweep_rows_cover_the_grid_in_order() -> None:
    w = [3.0, 2.5, 2.0, 1.5, 1.0, 0.5, 0.3, 0.2, 0.1, 0.05]
    fleet = [rec("a", [1.0, 0.9, 0.8]), rec("w", w)]
    rows = sweep(fleet, policy(), min_completed=(1, 2), grace=(0.0, 5.0))
    assert [(r.min_completed, r.grace) for r in rows] == [(1, 0.0), (1, 5.0), (2, 0.0), (2, 5.0)]
    first = rows[0]
    assert (first.stops, first.groups_best_survived, first.groups_with_best) == (1, 0, 1)
    assert first.mean_normalized_regret == pytest.approx(2.0)
    # grace 5: decisions from step 5 on, where a (3 steps) is no reference -> nothing stopped
    assert rows[1].stops == 0 and rows[1].max_normalized_regret == 0.0
    assert set(rows[0].to_dict()) >= {"min_completed", "grace", "saved_fraction", "usd_saved"}


# ---- the catch-up rule in the replay ------------------------------------------------------------


def catchup_policy(**kw: Any) -> Policy:
    return Policy(mode="enforce", catchup=CatchUpSettings(**kw), prices=PRICES)


def test_the_default_policy_is_the_catch_up_rule() -> None:
    # three flat references (best final 1.0, no gain after any step, no noise) complete at
    # minute 3; x (5.0) falls short at its reports 1, 2 and 3 (minutes 4, 5, 6): stopped at 6
    refs = [rec(f"r{i}", [1.0 + i] * 3) for i in range(3)]
    x = rec("x", [5.0] * 10, start=3.0)
    result = replay([*refs, x], Policy(mode="enforce", prices=PRICES))
    assert stops(result) == {"x": ("catch-up", 6.0, 3.0, 1.0, 3)}


def test_a_report_judged_again_keeps_its_place_in_the_count() -> None:
    # a and b complete at minute 2, c at minute 3; x reports every 2 minutes (steps 1, 2, ...)
    a, b = rec("a", [1.0, 1.0]), rec("b", [1.0, 1.0])
    c = rec("c", [1.0, 1.0, 1.0])
    x = rec("x", [5.0] * 10, mps=2.0)
    pol = catchup_policy(min_completed=2, consecutive=2)
    # minute 2: report 1 worse (1 in a row); minute 3: c completes, report 1 is judged again
    # (still 1, not 2); minute 4: report 2 worse, 2 in a row: stop
    assert stops(replay([a, b, c, x], pol)) == {"x": ("catch-up", 4.0, 2.0, 1.0, 3)}
    once = catchup_policy(min_completed=2, consecutive=1)
    assert stops(replay([a, b, c, x], once)) == {"x": ("catch-up", 2.0, 1.0, 1.0, 2)}


def test_the_replay_s_model_is_the_references_folded_in_completion_order() -> None:
    fleet = [
        rec("a", [3.0, 2.0, 1.5, 1.2], start=0.0),
        rec("b", [2.5, 2.4, 2.0], start=2.0),
        rec("c", [4.0, 1.0, 0.9, 0.8, 0.7], start=1.0),
        rec("d", [9.0] * 8, start=3.0),  # stopped at minute 5 (its step 2): no reference
    ]
    result = replay(fleet, catchup_policy(min_completed=2, consecutive=1))
    assert "d" in stops(result)
    by_end = sorted((r for r in fleet if r.job != "d"), key=lambda r: r.end)
    assert result.models["g"] == CatchUpModel.build([r.curve for r in by_end], "minimize")


def test_launch_orders_move_starts_within_each_group() -> None:
    fleet = [rec(f"a{i}", [1.0] * (i + 1), start=3.0 * i) for i in range(5)]
    fleet += [rec(f"b{i}", [1.0] * 2, start=10.0 + i, group="h") for i in range(4)]
    fleet[0] = replace(fleet[0], end_minute=7.0)  # ran on 7 minutes after its start
    orders = launch_orders(fleet, 4, seed=1)
    assert orders[0] == fleet and len(orders) == 4
    for order in orders[1:]:
        for group in ("g", "h"):
            mine = [r for r in order if r.group == group]
            theirs = [r for r in fleet if r.group == group]
            assert sorted(r.start_minute for r in mine) == sorted(r.start_minute for r in theirs)
            assert [r.curve for r in mine] == [r.curve for r in theirs]  # same jobs, same order
        moved = order[0]
        assert moved.end_minute == moved.start_minute + 7.0
    assert len({tuple(r.start_minute for r in o) for o in orders}) == 4  # all differ
    assert launch_orders(fleet, 4, seed=1) == orders  # seeded
    assert launch_orders(fleet, 4, seed=2) != orders
    # the i-th sorted slot goes to the perm[i]-th job
    reverse = launch_orders(fleet[:5], 2, permutation=lambda s, o, g, n: list(range(n))[::-1])
    assert [r.start_minute for r in reverse[1]] == [12.0, 9.0, 6.0, 3.0, 0.0]
    with pytest.raises(ValueError, match="not a permutation"):
        launch_orders(fleet, 2, permutation=lambda s, o, g, n: [0] * n)
    with pytest.raises(ValueError):
        launch_orders(fleet, 0)


def test_replay_orders_counts_every_group_and_order() -> None:
    w = [3.0, 2.5, 2.0, 1.5, 1.0, 0.5, 0.3, 0.2, 0.1, 0.05]
    fleet = [rec("a", [1.0, 0.9, 0.8]), rec("w", w), rec("z", [2.0] * 4, start=1.0)]
    fleet += [replace(r, job=f"h-{r.job}", group="h") for r in fleet]
    pol = policy()
    result = replay_orders(fleet, pol, orders=3, seed=0)
    singles = [replay(o, pol) for o in launch_orders(fleet, 3, seed=0)]
    groups = [g for r in singles for g in r.groups.values()]
    assert result.orders == 3 and result.replays == 6 == len(groups)
    assert result.best_lost == sum(1 for g in groups if not g.best_survived)
    assert result.best_kept == pytest.approx(1 - result.best_lost / 6)
    saved = sum(g.gpu_hours_saved for g in groups)
    assert result.saved_fraction == pytest.approx(saved / sum(g.gpu_hours_without for g in groups))
    regrets = [g.normalized_regret for g in groups if g.normalized_regret is not None]
    assert result.mean_normalized_regret == pytest.approx(sum(regrets) / len(regrets))
    assert result.max_normalized_regret == max(regrets)
    assert set(result.to_dict()) >= {"saved_fraction", "best_kept", "mean_normalized_regret"}
    overall = singles[0].overall
    first = [g.normalized_regret for g in singles[0].groups.values()]
    assert overall.mean_normalized_regret == pytest.approx(sum(first) / len(first))  # type: ignore[arg-type]
