"""Curve files: loading, line-numbered errors, the writer."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from trainguard_tools.curvefile import CurveRecord, dump_curves, load_curves, parse_lines

pytestmark = pytest.mark.unit

GOOD = {
    "job": "digits-mlp-017",
    "group": "digits-mlp",
    "status": "Completed",
    "objective": "validation:loss",
    "direction": "minimize",
    "start_minute": 42.0,
    "minutes_per_step": 1.5,
    "instance_type": "ml.g5.xlarge",
    "instance_count": 1,
    "curve": [[1, 2.31], [2, 1.87], [3, None]],
    "hyperparameters": {"lr": 0.01},
    "accuracy_curve": [[1, 0.4], [2, 0.5]],
}


def line(**changes: object) -> str:
    return json.dumps({**GOOD, **changes})


def test_a_valid_line_loads_with_nan_for_null_and_extras_kept() -> None:
    (record,), errors = parse_lines([line()])
    assert errors == []
    assert record.job == "digits-mlp-017" and record.status == "Completed"
    assert record.curve[:2] == ((1.0, 2.31), (2.0, 1.87)) and math.isnan(record.curve[2][1])
    assert record.extras == {"accuracy_curve": [[1, 0.4], [2, 0.5]]}
    assert record.produced_at(2) == 45.0 and record.end == 46.5
    assert record.final_value is None  # the last point is NaN


def test_invalid_lines_are_reported_with_their_line_numbers_and_the_rest_loads() -> None:
    lines = [
        line(job="ok-1"),
        "{not json",
        json.dumps({k: v for k, v in GOOD.items() if k != "status"} | {"job": "no-status"}),
        "",
        line(job="ok-1"),
        line(job="backwards", curve=[[2, 1.0], [1, 0.5]]),
        line(job="bad-count", instance_count=0),
        line(job="bad-mps", minutes_per_step=0),
        line(job="bad-direction", direction="up"),
        "[1, 2]",
        line(job="ok-2", status="Failed"),
    ]
    records, errors = parse_lines(lines)
    assert [r.job for r in records] == ["ok-1", "ok-2"]
    assert [e.split(":")[0] for e in errors] == [
        "line 2",
        "line 3",
        "line 5",
        "line 6",
        "line 7",
        "line 8",
        "line 9",
        "line 10",
    ]
    assert "not valid JSON" in errors[0]
    assert "status must be one of Completed, Failed, Stopped" in errors[1]
    assert "already on line 1" in errors[2]
    assert "steps must increase" in errors[3]
    assert "instance_count" in errors[4] and "minutes_per_step" in errors[5]
    assert "direction" in errors[6] and "JSON object" in errors[7]


def test_end_minute_extends_the_job(tmp_path: Path) -> None:
    (record,), _ = parse_lines([line(end_minute=60.0)])
    assert record.end == 60.0
    (early,), _ = parse_lines([line(end_minute=10.0)])
    assert early.end == 46.5  # never before the last measurement


def test_writer_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "curves.jsonl"
    (record,), _ = parse_lines([line(tags={"trainguard:grace": "2"}, end_minute=50.0)])
    assert dump_curves([record, record.__class__(**{**record.__dict__, "job": "b"})], path) == 2
    text = path.read_text().splitlines()
    assert json.loads(text[0])["curve"][2] == [3, None]  # NaN written as null, steps as ints
    loaded, errors = load_curves(path)
    assert errors == [] and [r.job for r in loaded] == ["digits-mlp-017", "b"]
    again: CurveRecord = loaded[0]
    assert again.to_dict() == record.to_dict()
    assert again.tags == {"trainguard:grace": "2"} and again.end_minute == 50.0
