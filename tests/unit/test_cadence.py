"""ReportCadence: a job's report rhythm, folded one datapoint timestamp at a time and kept
between ticks (JSON), O(1) in size."""

from __future__ import annotations

import json
from decimal import Decimal
from itertools import accumulate, pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainguard.core.cadence import RECENT_GAPS, ReportCadence

pytestmark = pytest.mark.unit

BASE = 1_700_000_040.0  # a whole minute, epoch s

# increasing timestamps: a start and positive gaps (whole seconds, so sums are exact)
timestamps = st.lists(st.integers(1, 3600), max_size=40).map(
    lambda gaps: list(accumulate([BASE, *map(float, gaps)]))
)


def test_gaps_typical_and_longest() -> None:
    c = ReportCadence.of([BASE, BASE + 60, BASE + 120, BASE + 720, BASE + 780])
    assert (c.count, c.last, c.gaps, c.longest) == (5, BASE + 780, (60.0, 60.0, 600.0, 60.0), 600)
    assert c.typical_gap == 60.0  # the median: one checkpoint pause does not move it


def test_before_two_reports_nothing_is_known() -> None:
    assert ReportCadence().typical_gap is None
    one = ReportCadence().add(BASE)
    assert (one.count, one.last, one.gaps, one.longest, one.typical_gap) == (
        1,
        BASE,
        (),
        None,
        None,
    )


def test_recent_gaps_are_bounded_and_the_longest_is_remembered() -> None:
    c = ReportCadence.of([BASE, BASE + 1800])  # one 30-minute gap early on
    for i in range(1, 100):
        c = c.add(BASE + 1800 + 60 * i)
    assert len(c.gaps) == RECENT_GAPS
    assert (c.count, c.typical_gap, c.longest) == (101, 60.0, 1800.0)


@pytest.mark.parametrize("bad", [BASE, BASE - 1, float("nan"), float("inf")])
def test_a_timestamp_must_be_finite_and_later(bad: float) -> None:
    with pytest.raises(ValueError):
        ReportCadence.of([BASE, bad])


def test_json_round_trip_including_dynamodb_decimals() -> None:
    c = ReportCadence.of([BASE, BASE + 60, BASE + 150])
    assert ReportCadence.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    as_dynamodb = {
        k: v if not isinstance(v, float) else Decimal(str(v)) for k, v in c.to_dict().items()
    }
    as_dynamodb["gaps"] = [Decimal(str(g)) for g in c.gaps]
    assert ReportCadence.from_dict(as_dynamodb) == c
    assert ReportCadence.from_dict({}) == ReportCadence()


@pytest.mark.parametrize(
    "raw",
    [
        {"count": 2, "last": None},
        {"count": 0, "last": BASE},
        {"count": 3, "last": BASE, "gaps": [60.0, -1.0], "longest": 60.0},
        {"count": 3, "last": BASE, "gaps": [60.0], "longest": None},
        {"count": 1, "last": "nan"},
    ],
)
def test_an_unusable_record_is_an_error(raw: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ReportCadence.from_dict(raw)


@settings(max_examples=200, deadline=None)
@given(ts=timestamps)
def test_folding_keeps_the_order_of_the_gaps(ts: list[float]) -> None:
    """The gaps are the consecutive differences in arrival order, the last RECENT_GAPS of
    them; the longest is the largest of all."""
    c = ReportCadence.of(ts)
    diffs = [b - a for a, b in pairwise(ts)]
    assert c.count == len(ts)
    assert c.gaps == tuple(diffs[-RECENT_GAPS:])
    assert c.longest == (max(diffs) if diffs else None)
    assert c.last == (ts[-1] if ts else None)


@settings(max_examples=200, deadline=None)
@given(ts=timestamps, cuts=st.lists(st.integers(0, 40), max_size=5))
def test_the_same_cadence_whatever_the_split_into_ticks(ts: list[float], cuts: list[int]) -> None:
    """Each tick folds its new timestamps into the cadence read back from the job's item."""
    cadence = ReportCadence()
    bounds = [0, *sorted(min(c, len(ts)) for c in cuts), len(ts)]
    for lo, hi in pairwise(bounds):
        cadence = ReportCadence.from_dict(json.loads(json.dumps(cadence.to_dict())))
        for t in ts[lo:hi]:
            cadence = cadence.add(t)
    assert cadence == ReportCadence.of(ts)
