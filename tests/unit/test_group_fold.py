"""The reference set's statistics as a pure fold over its references."""

from __future__ import annotations

import pytest

from trainguard.core.catchup import CatchUpModel
from trainguard.core.group import GroupFigures, Reference, fold_group, join, median_duration
from trainguard.core.median import ReferenceTable

pytestmark = pytest.mark.unit

CURVES = {
    "a@1": [(1.0, 3.0), (2.0, 2.0), (3.0, 1.0)],
    "b@1": [(1.0, 4.0), (2.0, 3.0), (3.0, 2.0)],
    "c@1": [(1.0, 5.0), (2.0, 4.0), (3.0, 3.0)],
}
MINUTES = {"a@1": 10.0, "b@1": 20.0, "c@1": 40.0}


def fold(before: GroupFigures | None, *runs: str, limit: int = 200) -> GroupFigures | None:
    new = [Reference(run, MINUTES[run]) for run in runs]
    return fold_group(before, new, CURVES, direction="minimize", table_keys={"all"}, limit=limit)


def test_join_keeps_the_most_recent_and_skips_those_in_already() -> None:
    a, b, c = (Reference(r, 1.0) for r in ("a", "b", "c"))
    assert join((a, b), [b, c], 2) == ((b, c), (c,))


def test_one_fold_equals_folding_one_reference_at_a_time() -> None:
    at_once = fold(None, "a@1", "b@1", "c@1")
    one = fold(fold(fold(None, "a@1"), "b@1"), "c@1")
    assert at_once is not None and one is not None
    assert at_once.window == one.window and at_once.completed == one.completed == 3
    assert at_once.tables == one.tables == {"all": ReferenceTable.build(CURVES)}
    assert at_once.catchup == one.catchup == CatchUpModel.build(CURVES, "minimize")
    assert one.median_duration_min == at_once.median_duration_min == 20.0


def test_a_duplicate_completion_is_no_fold_and_the_window_is_bounded() -> None:
    first = fold(None, "a@1", "b@1")
    assert fold(first, "b@1") is None
    bounded = fold(first, "c@1", limit=2)
    assert bounded is not None and [r.run for r in bounded.window] == ["b@1", "c@1"]
    assert bounded.completed == 3
    assert median_duration([Reference("x", 0.0), Reference("y", 4.0)]) == 4.0


def test_an_unusable_curve_is_left_out_of_the_catch_up_model_and_named() -> None:
    bad = {"z@1": [(2.0, 1.0), (1.0, 2.0)]}  # steps go back
    figures = fold_group(
        None, [Reference("z@1", 1.0)], bad, direction="minimize", table_keys=(), limit=5
    )
    assert figures is not None and figures.catchup == CatchUpModel("minimize")
    assert figures.rejected and figures.rejected[0][0] == "z@1"
