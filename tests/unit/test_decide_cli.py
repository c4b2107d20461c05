from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainguard_tools.cli import main
from trainguard_tools.decide import decide_snapshot

pytestmark = pytest.mark.unit

EXAMPLE = {
    "rule": {"name": "median", "direction": "minimize", "min_completed": 1, "grace": 0},
    "completed": {"job-a": [[1, 0.9], [2, 0.7]], "job-b": [[1, 0.8]]},
    "running": {"job-x": [[1, 1.0], [2, 0.95]]},
}


def run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], snapshot: object
) -> tuple[int, str, str]:
    path = tmp_path / "snap.json"
    path.write_text(snapshot if isinstance(snapshot, str) else json.dumps(snapshot))
    code = main(["decide", str(path)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_decide_stops_job_worse_than_median(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(tmp_path, capsys, EXAMPLE)
    assert code == 0
    (d,) = json.loads(out)["decisions"]
    # only job-a reaches step 2: its running average (0.9 + 0.7) / 2 = 0.8 is the median
    assert (d["job"], d["rule"], d["stop"], d["step"]) == ("job-x", "median", True, 2)
    assert d["value"] == 0.95 and d["threshold"] == pytest.approx(0.8) and d["references"] == 1


def test_decide_gate_reports_no_threshold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshot = {**EXAMPLE, "rule": {**EXAMPLE["rule"], "min_completed": 3}}
    code, out, _ = run(tmp_path, capsys, snapshot)
    (d,) = json.loads(out)["decisions"]
    assert code == 0 and d["stop"] is False and d["threshold"] is None and d["references"] == 1


@pytest.mark.parametrize(
    ("snapshot", "message"),
    [
        ("{not json", "not valid JSON"),
        ({**EXAMPLE, "rule": {"name": "hyperband"}}, "unknown rule 'hyperband'"),
        ({**EXAMPLE, "running": {"x": [["a", 1.0]]}}, "running.x[0]: step must be a finite number"),
        ({**EXAMPLE, "running": {"x": [[2, 1.0], [1, 0.5]]}}, "steps must increase"),
    ],
)
def test_decide_rejects_malformed_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], snapshot: object, message: str
) -> None:
    code, out, err = run(tmp_path, capsys, snapshot)
    assert code != 0 and out == "" and message in err


def test_readme_example_snapshot(capsys: pytest.CaptureFixture[str]) -> None:
    example = Path(__file__).parents[2] / "examples" / "snapshot.json"
    assert main(["decide", str(example)]) == 0
    x, y = json.loads(capsys.readouterr().out)["decisions"]
    # running averages at step 2: a 0.8, b 0.7, c 0.9 -> median 0.8
    assert (x["job"], x["stop"], x["value"], x["threshold"], x["references"]) == (
        "job-x",
        True,
        0.95,
        pytest.approx(0.8),
        3,
    )
    assert (y["job"], y["stop"], y["value"]) == ("job-y", False, 0.55)


# ---- `trainguard decide` against the spec, written out independently ------------------------
# Values are multiples of 1/4 (exact in binary, so every summation order gives the same sums
# and ties are frequent); references may hold NaN and inf. A running job's values stay finite
# and within a factor 4 of each other at its latest step, so the divergence rule never stops
# it: every decision is the median rule's.

QUARTERS = st.integers(2, 8).map(lambda k: k / 4)
REFERENCE_VALUES = st.one_of(QUARTERS, st.sampled_from([math.nan, math.inf, -math.inf]))


def _curve(values: st.SearchStrategy[float], min_size: int = 0) -> st.SearchStrategy[list[Any]]:
    steps = st.lists(st.integers(0, 12), min_size=min_size, max_size=8, unique=True).map(sorted)
    return steps.flatmap(
        lambda ks: st.lists(values, min_size=len(ks), max_size=len(ks)).map(
            lambda vs: [[k / 2, v] for k, v in zip(ks, vs, strict=True)]
        )
    )


def _spec(
    completed: dict[str, list[Any]],
    curve: list[Any],
    direction: str,
    min_completed: int,
    grace: float,
) -> tuple[bool, float | None, float | None, int]:
    """DESIGN.md's median stopping rule, step by step: (stop, threshold, best, references)."""
    s = curve[-1][0]
    averages = []
    for reference in completed.values():
        if not reference or reference[-1][0] < s:  # 1. must reach s
            continue
        upto = [v for t, v in reference if t <= s]  # 2. ALL measurements with step <= s
        if not upto:
            continue
        average = sum(upto) / len(upto)
        if math.isfinite(average):
            averages.append(average)
    ordered = sorted(averages)  # 3. median, mean of the middle two for an even count
    n = len(ordered)
    m = (
        None
        if n == 0
        else ordered[n // 2]
        if n % 2
        else (ordered[n // 2 - 1] + ordered[n // 2]) / 2
    )
    finite = [v for t, v in curve if t <= s and math.isfinite(v)]  # 4. best so far
    best = (min(finite) if direction == "minimize" else max(finite)) if finite else None
    if n < min_completed or s < grace or m is None:  # 6. gates: no comparison
        return False, None, best, n
    if best is None:
        return False, m, None, n
    return (best > m if direction == "minimize" else best < m), m, best, n  # 5. strict


@settings(max_examples=300, deadline=None)
@given(
    completed=st.lists(_curve(REFERENCE_VALUES), max_size=7),
    running=st.lists(_curve(QUARTERS, min_size=1), min_size=1, max_size=4),
    direction=st.sampled_from(["minimize", "maximize"]),
    min_completed=st.integers(1, 4),
    grace=st.sampled_from([0.5, 1.0, 2.0, 3.5, 5.0]),
)
def test_decide_agrees_with_the_spec_on_random_fleets_with_grace(
    completed: list[list[Any]],
    running: list[list[Any]],
    direction: str,
    min_completed: int,
    grace: float,
) -> None:
    refs = {f"done-{i}": c for i, c in enumerate(completed)}
    jobs = {f"run-{i}": c for i, c in enumerate(running)}
    rule = {"name": "median", "direction": direction, "min_completed": min_completed}
    out = decide_snapshot({"rule": {**rule, "grace": grace}, "completed": refs, "running": jobs})[
        "decisions"
    ]
    assert [d["job"] for d in out] == list(jobs)
    for d, curve in zip(out, jobs.values(), strict=True):
        stop, threshold, best, count = _spec(refs, curve, direction, min_completed, grace)
        assert d["rule"] == "median"
        assert (d["stop"], d["threshold"], d["value"], d["references"]) == (
            stop,
            threshold,
            best,
            count,
        )
        assert d["step"] == curve[-1][0]


# ---- the default rule: every objective rule the evaluator runs (issue 22) -------------------

CATCH_UP = {
    "completed": {
        "a": [[1, 0.9], [2, 0.7], [3, 0.6], [4, 0.5]],
        "b": [[1, 0.8], [2, 0.6], [3, 0.5], [4, 0.45]],
        "c": [[1, 1.0], [2, 0.8], [3, 0.7], [4, 0.6]],
    },
    "running": {"x": [[1, 2.0], [2, 1.95], [3, 1.9], [4, 1.9]], "y": [[1, 0.7], [2, 0.55]]},
}


@pytest.mark.parametrize("rule", [None, {"name": "catch-up"}, {"direction": "minimize"}])
def test_decide_runs_the_default_catch_up_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rule: dict[str, str] | None
) -> None:
    snapshot = CATCH_UP if rule is None else {**CATCH_UP, "rule": rule}
    code, out, err = run(tmp_path, capsys, snapshot)
    assert code == 0, err
    x, y = json.loads(out)["decisions"]
    # x: 4 reports in a row far above what any reference could still reach -> stop
    assert (x["job"], x["rule"], x["stop"], x["references"]) == ("x", "catch-up", True, 3)
    assert "4 reports in a row" in x["reason"]
    assert (y["job"], y["rule"], y["stop"]) == ("y", "catch-up", False)


def test_decide_catch_up_counts_reports_in_a_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshot = {**CATCH_UP, "rule": {"name": "catch-up", "consecutive": 5}}
    code, out, _ = run(tmp_path, capsys, snapshot)
    x, _ = json.loads(out)["decisions"]
    assert code == 0 and x["stop"] is False  # worse at 4 reports, 5 needed


def test_decide_catch_up_rejects_a_bad_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(tmp_path, capsys, {**CATCH_UP, "rule": {"name": "catch-up", "k": -1}})
    assert code == 2 and out == "" and "rule:" in err
