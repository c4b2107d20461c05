"""The values the objective rules' hot path builds without their NamedTuple constructors
(``tuple.__new__`` with the fields in order) are the same values, of the same types, as the
constructors build; and the loose-argument walk reads the table it is given on every call."""

from __future__ import annotations

import pytest

from trainguard.core.catchup import CatchUpModel, CatchUpRule, WorseStreak
from trainguard.core.curves import Direction
from trainguard.core.engine import ObjectiveRules
from trainguard.core.median import MedianStoppingRule, MedianVerdict, ReferenceTable
from trainguard.core.rule import GroupState
from trainguard.core.summary import CurveSummary

pytestmark = pytest.mark.unit

LOW = ReferenceTable.build({"a": [(1.0, 1.0), (2.0, 1.0)]})  # M = 1 at every step
HIGH = ReferenceTable.build({"b": [(1.0, 9.0), (2.0, 9.0)]})  # M = 9 at every step
JOB = CurveSummary.of([(1.0, 5.0), (2.0, 5.0)])  # best 5: worse than 1, better than 9


class _Stats:
    """A group record with one table of the spec's average and a catch-up model."""

    def __init__(self, table: ReferenceTable, model: CatchUpModel) -> None:
        self.catchup = model
        self._table = table

    def table(self, key: str = "all") -> ReferenceTable | None:
        return self._table if key == "all" else None


def test_the_median_verdict_is_a_median_verdict_with_its_fields() -> None:
    verdict = MedianStoppingRule(min_completed=1).check(2.0, 5.0, LOW)
    assert type(verdict) is MedianVerdict
    assert verdict == MedianVerdict(stop=True, step=2.0, value=5.0, threshold=1.0, references=1)
    assert (verdict.stop, verdict.threshold, verdict.references) == (True, 1.0, 1)
    gated = MedianStoppingRule(min_completed=2).check(2.0, 5.0, LOW)
    assert type(gated) is MedianVerdict and gated.threshold is None and not gated.stop


def test_the_group_state_is_a_group_state_with_its_fields() -> None:
    model = CatchUpModel.build([[(1.0, 3.0), (2.0, 2.0)]], "minimize")
    rules = ObjectiveRules(median=MedianStoppingRule(), catchup=CatchUpRule())
    streak = WorseStreak(step=2.0, before=1, current=2)
    group = rules.group_state(_Stats(LOW, model), streak=streak, silent_minutes=4.0)
    assert type(group) is GroupState
    assert group == GroupState(LOW, model, streak, 4.0)
    assert (group.references, group.catchup, group.streak, group.silent_minutes) == (
        LOW,
        model,
        streak,
        4.0,
    )


def test_the_loose_walk_reads_the_table_it_is_given_call_after_call() -> None:
    rules = ObjectiveRules(median=MedianStoppingRule(min_completed=1))
    answers = [rules.stop_summary("j", JOB, table) for table in (LOW, HIGH, LOW, HIGH, None)]
    assert [d is not None and d.stop for d in answers] == [True, False, True, False, False]
    first = answers[0]
    assert first is not None and first.threshold == 1.0


@pytest.mark.parametrize("direction", list(Direction))
def test_the_reason_writes_the_direction_as_its_word(direction: Direction) -> None:
    rule = MedianStoppingRule(direction, min_completed=1)
    decision = rule.explain("j", rule.check(2.0, 5.0, LOW))
    assert decision.reason.endswith(f"running averages ({direction.value})")
