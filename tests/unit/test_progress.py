"""``advance``: folding new datapoints into a job's progress is the same as summarizing its
whole curve, whatever the split into ticks."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainguard.core.progress import Progress, advance
from trainguard.core.summary import CurveSummary

pytestmark = pytest.mark.unit

START = 1_000_020.0  # 20 s into a minute: steps count from the start's minute


def points(values: list[float], every: int = 60) -> list[tuple[float, float]]:
    base = START - START % 60
    return [(base + (i + 1) * every, v) for i, v in enumerate(values)]


def fold(chunks: list[list[tuple[float, float]]], unit: str = "minute") -> Progress | None:
    progress = None
    for n, chunk in enumerate(chunks):
        progress = advance(
            progress,
            chunk,
            start_time=START,
            unit=unit,
            direction="minimize",
            min_delta=0.0,
            now=START + 60 * n,
        )
    return progress


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=1, max_size=30),
    cuts=st.lists(st.integers(0, 30), max_size=5),
)
def test_any_split_into_ticks_gives_the_whole_curve_s_summary(
    values: list[float], cuts: list[int]
) -> None:
    pts = points(values)
    bounds = sorted({0, len(pts), *[min(c, len(pts)) for c in cuts]})
    # each tick re-reads an overlapping window: the last point of the previous one again
    chunks = [pts[max(0, a - 1) : b] for a, b in itertools.pairwise(bounds)]
    progress = fold(chunks)
    assert progress is not None
    whole = CurveSummary.of([(float(i + 1), v) for i, v in enumerate(values)])
    assert progress.summary == whole
    assert progress.last_point == pts[-1][0]


def test_report_unit_counts_reports_not_minutes() -> None:
    progress = fold([points([3.0, 2.0, 1.0], every=300)], unit="report")
    assert progress is not None and progress.summary.last_step == 3.0
    minutes = fold([points([3.0, 2.0, 1.0], every=300)])
    assert minutes is not None and minutes.summary.last_step == 15.0


def test_datapoints_before_the_start_are_ignored() -> None:
    progress = advance(
        None,
        [(START - 120, 9.0), *points([1.0])],
        start_time=START,
        unit="minute",
        direction="minimize",
        min_delta=0.0,
        now=START,
    )
    assert progress.summary.count == 1 and progress.summary.best == 1.0


def test_usable_only_for_the_same_rules_unit_and_a_recent_read() -> None:
    progress = fold([points([1.0])])
    assert progress is not None
    kwargs = {"direction": "minimize", "min_delta": 0.0, "unit": "minute", "since": START}
    assert progress.usable(**kwargs)  # type: ignore[arg-type]
    assert not progress.usable(**{**kwargs, "direction": "maximize"})  # type: ignore[arg-type]
    assert not progress.usable(**{**kwargs, "min_delta": 0.1})  # type: ignore[arg-type]
    assert not progress.usable(**{**kwargs, "unit": "report"})  # type: ignore[arg-type]
    assert not progress.usable(**{**kwargs, "since": START + 1})  # type: ignore[arg-type]
    assert Progress.from_dict(progress.to_dict()) == progress
