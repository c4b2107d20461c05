"""The objective rules' one verb and the health episodes' typed keys."""

from __future__ import annotations

import pytest

from trainguard.core.catchup import NO_STREAK, CatchUpModel, CatchUpRule
from trainguard.core.divergence import DivergenceRule
from trainguard.core.engine import ORDER, ObjectiveRules
from trainguard.core.episode import THROUGHPUT, EpisodeKey, EpisodeRule, Episodes, open_episodes
from trainguard.core.median import MedianStoppingRule, ReferenceTable
from trainguard.core.patience import PatienceRule
from trainguard.core.rule import NO_GROUP, GroupState
from trainguard.core.summary import CurveSummary
from trainguard.core.throughput import WINDOW, ThroughputBaseline, ThroughputRule, ThroughputSummary

pytestmark = pytest.mark.unit

REFS = {"a": [(1.0, 1.0), (2.0, 1.0)], "b": [(1.0, 2.0), (2.0, 2.0)], "c": [(1.0, 3.0), (2.0, 3.0)]}


def test_the_engine_walks_its_rules_in_the_one_order() -> None:
    rules = ObjectiveRules(MedianStoppingRule(), PatienceRule(), DivergenceRule(), CatchUpRule())
    assert ORDER == ("divergence", "median", "catchup", "patience")
    assert rules.ordered == (rules.divergence, rules.median, rules.catchup, rules.patience)
    assert ObjectiveRules(patience=PatienceRule()).ordered == (PatienceRule(),)


def test_a_rule_without_its_group_state_makes_no_decision() -> None:
    summary = CurveSummary.of([(1.0, 9.0), (2.0, 9.0)])
    rule = MedianStoppingRule(min_completed=1)
    assert rule.judge(summary, NO_GROUP) is None
    assert CatchUpRule().judge(summary, NO_GROUP) is None
    group = GroupState(ReferenceTable.build(REFS))
    verdict = rule.judge(summary, group)
    assert verdict is not None and verdict.stop
    assert rule.decision("x", summary, verdict, group) == rule.decide_summary(
        "x", summary, group.references or {}
    )


def test_judge_is_the_first_stop_and_divergence_is_final() -> None:
    rules = ObjectiveRules(MedianStoppingRule(min_completed=1), None, DivergenceRule())
    table = ReferenceTable.build(REFS)
    behind = CurveSummary.of([(1.0, 9.0), (2.0, 9.0)])
    assert (
        rules.judge("x", behind, GroupState(table)).stop
        == rules.decisions("x", behind, GroupState(table))[1]
    )
    diverged = CurveSummary.of([(1.0, 9.0), (2.0, float("nan"))])
    check = rules.judge("x", diverged, GroupState(table))
    assert check.stop is not None and check.stop.rule == "diverged"
    assert [d.rule for d in rules.decisions("x", diverged, GroupState(table))] == ["diverged"]


def test_the_catch_up_rule_carries_the_jobs_counter() -> None:
    model = CatchUpModel.build([[(0.0, 1.0), (5.0, 0.1)]] * 3, "minimize")
    summary = CurveSummary.of([(0.0, 5.0), (1.0, 5.0)])
    rule = CatchUpRule(noise_multiple=0.0)
    verdict = rule.judge(summary, GroupState(catchup=model))
    assert verdict is not None and not verdict.stop and rule.carries
    assert rule.carry(NO_STREAK, verdict).current == 1
    assert ObjectiveRules(catchup=rule).judge("x", summary, GroupState(catchup=model)).streak == (
        rule.carry(NO_STREAK, verdict)
    )
    assert DivergenceRule.final and not MedianStoppingRule.final and not PatienceRule.carries


def test_episode_keys_read_and_write_the_stored_text() -> None:
    stored = {"hung": 1.0, "straggler:j/algo-2": 2.0, "throughput": 3.0, "other:x": 4.0}
    keys = open_episodes(stored)
    assert keys == {
        EpisodeKey(EpisodeRule.HUNG): 1.0,
        EpisodeKey(EpisodeRule.STRAGGLER, "j/algo-2"): 2.0,
        EpisodeKey(EpisodeRule.THROUGHPUT): 3.0,
    }
    assert {str(k) for k in keys} == {"hung", "straggler:j/algo-2", "throughput"}
    assert EpisodeKey(EpisodeRule.STRAGGLER, "j/algo-2").alert(12.4) == "straggler:j/algo-2:12"


def test_an_episode_rule_answers_in_one_shape() -> None:
    rule = ThroughputRule()
    low = ThroughputSummary.of([(float(m), 1240.0) for m in range(30)], 10.0)
    group = ThroughputBaseline(500.0, 12)
    now = 10_000.0

    def episodes(is_open: bool, summary: ThroughputSummary) -> Episodes:
        return rule.episodes(
            "job", is_open, summary, instances=4, group=group, now=now, elapsed_minutes=29.0
        )

    opened = episodes(False, low)
    assert [o.key for o in opened.opened] == [THROUGHPUT] and not opened.closed
    assert opened.opened[0].once == f"throughput:{now:.0f}"
    assert opened.opened[0].since == now - WINDOW * 60.0
    alert = rule.check("job", low, instances=4, group=group, elapsed_minutes=29.0)
    assert opened.opened[0].alert == alert
    assert episodes(True, low) == Episodes()
    fine = ThroughputSummary.of([(float(m), 4000.0) for m in range(30)], 10.0)
    assert episodes(True, fine) == Episodes(closed=(THROUGHPUT,))
