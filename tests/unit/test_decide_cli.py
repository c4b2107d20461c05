from __future__ import annotations

import json
from pathlib import Path

import pytest

from trainguard_tools.cli import main

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
