"""``make bench``'s frontier part on small inputs: the lagged median baseline on a hand-made
group, the study's launch orders, and the decision-cost harness's own agreement check.
Behaviour only: the full frontier (all of LCDB) is the bench's, not the suite's."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from trainguard.config import Policy
from trainguard_tools.curvefile import CurveRecord, load_curves
from trainguard_tools.replay import replay, replay_orders

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/ is outside the wheel
from bench.frontier import (
    DEFAULT_KEY,
    ORACLE_KEY,
    ROW_SOURCES,
    Row,
    against_goal,
    decision_cost_group,
    dominance,
    lagged_rules,
    replay_dataset,
    rows,
    study_permutation,
)
from bench.pruner_replay import OraclePeer, optuna_peer, ray_peer, replay_peer

pytestmark = pytest.mark.unit
DATA = Path(__file__).resolve().parents[2] / "data"


def rec(job: str, values: list[float], start: float = 0.0) -> CurveRecord:
    return CurveRecord(
        job=job,
        group="g",
        status="Completed",
        objective="loss",
        direction="minimize",
        start_minute=start,
        minutes_per_step=1.0,
        instance_type="ml.g5.xlarge",
        instance_count=1,
        curve=tuple((float(i + 1), v) for i, v in enumerate(values)),
    )


def test_the_rows_cover_the_median_the_lagged_median_the_ladder_and_the_oracle() -> None:
    keys = [r.key for r in rows()]
    assert keys[:5] == ["median_g0", "median_g4", "median_g6", "median_g8", "lagged_median_d2"]
    assert DEFAULT_KEY in keys and keys[5:17] == [r.key for r in rows() if r.family == "catch-up"]
    assert keys[-2:] == [ORACLE_KEY, f"{ORACLE_KEY}_after_3"]
    assert len(set(keys)) == len(keys)
    assert "|" not in "".join(r.label for r in rows())  # Markdown table cells


def test_the_peers_rows_are_there_when_their_libraries_are() -> None:
    pytest.importorskip("optuna")
    if importlib.util.find_spec("ray") is None:
        pytest.skip("ray is in the bench dependency group")
    keys = {r.key for r in rows()}
    assert {
        "optuna_median",
        "optuna_percentile",
        "optuna_sh",
        "optuna_hyperband",
        "optuna_patient",
        "ray_asha",
        "ray_median",
    } <= keys


def test_a_row_source_appended_adds_its_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = Row("extra", "extra", "x", Policy(mode="enforce"))
    monkeypatch.setattr("bench.frontier.ROW_SOURCES", [*ROW_SOURCES, lambda quick: [extra]])
    assert rows()[-1] is extra


def test_the_lagged_median_on_a_hand_made_group() -> None:
    # three flat references (best so far 1, 2, 3: median 2; no jitter) complete at minute 4;
    # x (5.0) is judged at its steps 2, 3, 4 (step 1 looks back at s/2 = 0.5: no reference has
    # a value by then): worse at 2 and 3 -> stopped at step 3, minute 7
    refs = [rec(f"r{i}", [float(i + 1)] * 4) for i in range(3)]
    x = rec("x", [5.0] * 10, start=4.0)
    result = replay([*refs, x], Policy(mode="enforce"), rules_for=lagged_rules)
    (stop,) = result.groups["g"].stops
    assert (stop.job, stop.rule, stop.step, stop.minute, stop.threshold) == (
        "x",
        "lagged-median",
        3.0,
        7.0,
        2.0,
    )
    fine = rec("y", [1.5] * 10, start=4.0)  # better than the median: never stopped
    assert (
        not replay([*refs, fine], Policy(mode="enforce"), rules_for=lagged_rules).groups["g"].stops
    )


def test_the_bench_replays_as_replay_orders_does_with_the_study_s_draws() -> None:
    records, _ = load_curves(DATA / "lcdb_dev_a.jsonl")
    group = [r for r in records if r.group == "lcdb-14"]
    row: Row = next(r for r in rows() if r.key == DEFAULT_KEY)
    ours = replay_dataset([group], row, 3)
    same = replay_orders(group, row.policy, 3, 0, permutation=study_permutation)
    assert ours.to_dict() == same.to_dict()
    perm = study_permutation(0, 1, "lcdb-14", len(group))
    assert sorted(perm) == list(range(len(group)))


def test_the_decision_cost_harness_checks_its_own_decisions() -> None:
    row = decision_cost_group(10, 40, 1)  # raises if the cheap path and the decisions differ
    assert row["catchup_model_grid_points"] == 111  # steps 1..500 on the bounded grid
    assert row["catchup_us_per_decision"] > 0 and row["median_us_per_decision"] > 0


def group_of_four() -> list[CurveRecord]:
    # three references finish at minute 4; x (best final 0.5) and a bad job start at minute 4
    refs = [rec(f"r{i}", [float(i + 1)] * 4) for i in range(3)]
    return [*refs, rec("x", [1.0, 0.8, 0.6, 0.5], start=4.0), rec("z", [9.0] * 8, start=4.0)]


def test_the_oracle_keeps_the_best_job_alone_and_stops_the_rest_at_their_first_report() -> None:
    records = group_of_four()
    result = replay_peer(records, Policy(mode="enforce"), OraclePeer)
    stops = {s.job: s for s in result.groups["g"].stops}
    assert set(stops) == {"r0", "r1", "r2", "z"}
    assert all(s.step == 1.0 for s in stops.values())
    assert (stops["z"].minute, stops["r0"].minute) == (5.0, 1.0)  # step 1 visible 1 min in
    g = result.groups["g"]
    assert g.best_job == "x" and g.best_survived and g.normalized_regret == 0


def test_optuna_decides_trial_by_trial_on_the_replay_s_clock() -> None:
    optuna = pytest.importorskip("optuna")
    records = group_of_four()
    peer = optuna_peer(lambda: optuna.pruners.MedianPruner(n_startup_trials=3), "median")
    (stop,) = replay_peer(records, Policy(mode="enforce"), peer).groups["g"].stops
    # z is worse than the median of the three completed trials at its first report
    assert (stop.job, stop.step, stop.minute, stop.rule, stop.references) == (
        "z",
        1.0,
        5.0,
        "median",
        3,
    )
    # started with the references, z runs until three trials complete (n_startup_trials):
    # its steps 1-3 pass, its step 4, seen after they complete at minute 4, is pruned
    early = [*records[:3], replace(records[4], start_minute=0.0)]
    (stop,) = replay_peer(early, Policy(mode="enforce"), peer).groups["g"].stops
    assert (stop.job, stop.step, stop.minute) == ("z", 4.0, 4.0)


def test_ray_tune_s_schedulers_decide_through_their_callbacks() -> None:
    pytest.importorskip("ray.tune")
    from ray.tune.schedulers import ASHAScheduler, MedianStoppingRule

    records = group_of_four()
    median = ray_peer(
        lambda: MedianStoppingRule(time_attr="training_iteration", grace_period=0), "median"
    )
    (stop,) = replay_peer(records, Policy(mode="enforce"), median).groups["g"].stops
    assert (stop.job, stop.step) == ("z", 1.0)  # worse than the median of the three at step 1
    asha = ray_peer(lambda: ASHAScheduler(grace_period=1, reduction_factor=2), "asha")
    stopped = {s.job for s in replay_peer(records, Policy(mode="enforce"), asha).groups["g"].stops}
    assert "z" in stopped and "x" not in stopped


def test_dominance_and_the_goal() -> None:
    def cell(saved: float, kept: float, regret: float | None) -> dict[str, float | None]:
        return {"saved_fraction": saved, "best_kept": kept, "mean_normalized_regret": regret}

    a = {"key": "a", "s": cell(0.5, 1.0, 0.0), "t": cell(0.3, 0.9, 0.01)}
    b = {"key": "b", "s": cell(0.4, 1.0, 0.0), "t": cell(0.3, 0.9, 0.01)}  # a dominates it
    c = {"key": "c", "s": cell(0.6, 0.9, 0.02), "t": cell(0.3, 0.9, 0.01)}  # a trade-off
    d = {"key": "d", "s": cell(0.5, 1.0, 0.0), "t": cell(0.3, 0.9, None)}  # no survivor
    assert dominance([a, b, c, d], ["s", "t"]) == {"a": [], "b": ["a"], "c": [], "d": ["a"]}
    oracle = {"key": "o", "family": "oracle", "s": cell(0.9, 1.0, 0.0), "t": cell(0.9, 1.0, 0.0)}
    assert dominance([a, oracle], ["s", "t"]) == {"a": [], "o": []}  # not a dominator
    row = {
        "hpo": cell(0.343, 1.0, 0.0),
        "lcdb_a": cell(0.154, 0.958, 0.0044),
        "lcdb_b": cell(0.25, 0.94, 0.02),
    }
    goal = against_goal(row)
    assert goal["hpo"]["saved_gap_points"] == 5.7 and goal["hpo"]["best_kept_met"]
    assert goal["lcdb_a"]["saved_gap_points"] == 9.6 and goal["lcdb_a"]["regret_met"]
    assert goal["lcdb_b"]["saved_met"] and not goal["lcdb_b"]["best_kept_met"]
    assert not goal["lcdb_b"]["regret_met"]


def test_hyperband_deals_the_same_brackets_in_every_run() -> None:
    # Optuna deals a trial to a bracket by a checksum of the study's name: each group's study
    # is named after the group, so two replays (or two processes) decide alike
    optuna = pytest.importorskip("optuna")
    records, _ = load_curves(DATA / "hpo_dev.jsonl")
    group = [r for r in records if r.group == "anes96-mlp"]
    peer = optuna_peer(optuna.pruners.HyperbandPruner, "hyperband")
    first, second = (replay_peer(group, Policy(mode="enforce"), peer) for _ in range(2))
    assert first.groups["anes96-mlp"].stops == second.groups["anes96-mlp"].stops
    assert first.groups["anes96-mlp"].stops
    (study_name,) = {peer(group).study.study_name}  # type: ignore[attr-defined]
    assert study_name == "anes96-mlp"
