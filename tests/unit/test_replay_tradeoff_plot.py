"""``replay --plots``'s savings-vs-regret figure stays readable when every regret is 0 (the
usual case on real sweeps): no negative axis, no two labels over each other, every mark in the
legend."""

from __future__ import annotations

from typing import Any

import pytest

from trainguard_tools.replay.engine import SWEEP_GRACE, SWEEP_MIN_COMPLETED
from trainguard_tools.replay.plots import _spread_labels, tradeoff_figure
from trainguard_tools.replay.results import SweepRow

pytestmark = pytest.mark.unit


def row(mc: int, grace: float, saved: float, regret: float = 0.0) -> SweepRow:
    return SweepRow(
        min_completed=mc,
        grace=grace,
        stops=10,
        gpu_hours_saved=saved * 100,
        saved_fraction=saved,
        usd_saved=saved * 150,
        groups_best_survived=4,
        groups_with_best=4,
        mean_normalized_regret=regret,
        max_normalized_regret=regret,
        groups_without_survivor=0,
    )


def labels_and_legend(fig: Any) -> tuple[list[Any], list[str]]:
    import matplotlib.pyplot as plt
    from matplotlib.text import Text

    ax = fig.axes[0]
    fig.canvas.draw()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    # the text's own box (an annotation's extent includes its leader line)
    boxes = [Text.get_window_extent(a) for a in ax.texts if a.get_text().startswith("mc=")]
    inside = [b for b in boxes if fig.bbox.x0 <= b.x0 and b.x1 <= fig.bbox.x1]
    plt.close(fig)
    assert len(inside) == len(boxes)  # no label cut off at the figure's edge
    return boxes, legend


@pytest.mark.parametrize("regret", [0.0, 0.05], ids=["every-regret-0", "some-regret"])
def test_the_tradeoff_plot_is_readable(regret: float) -> None:
    # the real sweep's shape: 20 variants, several within 0.1 % of each other's savings
    rows = [
        row(mc, g, 0.45 - 0.02 * i - 0.05 * j + (0.0005 if mc == 3 else 0.0), regret * i)
        for i, mc in enumerate(SWEEP_MIN_COMPLETED)
        for j, g in enumerate(SWEEP_GRACE)
    ]
    rows.append(row(9, 0.0, rows[0].saved_fraction or 0.0, rows[0].mean_normalized_regret or 0))
    current = row(3, 0.0, 0.418, 0.0)
    fig = tradeoff_figure(rows, current=current, current_label="the replayed policy (catch-up)")
    ax = fig.axes[0]
    assert ax.get_xlim()[0] == 0.0 and ax.get_ylim()[0] == 0.0  # no negative axis
    boxes, legend = labels_and_legend(fig)
    assert len(boxes) == 20  # 21 rows, two on the same point share one label
    overlaps = [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1 :] if a.overlaps(b)]
    assert overlaps == []
    assert legend == [
        "a median-rule variant: min_completed (mc), grace (g); labels on the right",
        "the median rule at the policy's own setting (mc=3, g=0)",
        "the replayed policy (catch-up)",
    ]


def test_labels_spread_apart_and_stay_in_range() -> None:
    assert _spread_labels([0.1, 0.1, 0.1], 0.05) == pytest.approx([0.1, 0.15, 0.2])
    assert _spread_labels([0.9, 1.0, 1.0], 0.05) == pytest.approx([0.9, 0.95, 1.0])
