"""``trainguard replay`` end to end on a small curve file: table, JSON, plots, sweep, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trainguard_tools.cli import main
from trainguard_tools.curvefile import CurveRecord, dump_curves
from trainguard_tools.replay.plots import TRADEOFF_FILE

pytestmark = pytest.mark.unit

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def rec(job: str, group: str, values: list[float], start: float = 0.0) -> CurveRecord:
    return CurveRecord(
        job=job,
        group=group,
        status="Completed",
        objective="validation:loss",
        direction="minimize",
        start_minute=start,
        minutes_per_step=1.0,
        instance_type="ml.g5.xlarge",
        instance_count=1,
        curve=tuple((float(i + 1), v) for i, v in enumerate(values)),
    )


@pytest.fixture
def curves(tmp_path: Path) -> Path:
    # per group: three flat references complete at minute 4 (best final 0.9, no gain after
    # any step, no noise), then a bad job (3.0) falls short at its steps 1, 2 and 3 and the
    # default catch-up rule stops it at its third report; a good one (0.5) runs on
    records = []
    for group in ("alpha", "beta/2"):
        records += [rec(f"{group}-ref{i}", group, [1.0 + 0.1 * (i - 1)] * 4) for i in range(3)]
        records += [rec(f"{group}-bad", group, [3.0] * 20, start=4.0)]
        records += [rec(f"{group}-good", group, [0.5] * 20, start=4.0)]
    path = tmp_path / "curves.jsonl"
    dump_curves(records, path)
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["replay", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_table_and_json(curves: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_json = tmp_path / "out.json"
    code, out, err = run(capsys, str(curves), "--json", str(out_json))
    assert code == 0 and err == ""
    assert "mode enforce" in out and "overall" in out and "alpha-bad" in out
    report = json.loads(out_json.read_text())
    assert report["mode"] == "enforce" and report["errors"] == []
    assert set(report["groups"]) == {"alpha", "beta/2"}
    alpha = report["groups"]["alpha"]
    assert alpha["jobs"] == 5 and alpha["stops"] == 1
    (event,) = alpha["stop_events"]
    assert {k: event[k] for k in ("job", "rule", "step", "threshold", "references")} == {
        "job": "alpha-bad",
        "rule": "catch-up",
        "step": 3,
        "threshold": pytest.approx(0.9),
        "references": 3,
    }
    assert event["reason"] == (
        "stop: best 3 by step 3 \u2212 at most 0 (the largest drop after step 3 among 3 completed "
        "jobs) \u2212 0 (8 x noise 0) = 3 is worse than 0.9, the best final of 3 completed jobs; "
        "to continue, its best by step 3 had to be at most 0.9 (3 reports in a row)"
    )
    # 17 of the bad job's 20 minutes on a 1-GPU instance at $1.408/h
    assert alpha["gpu_hours_saved"] == pytest.approx(17 / 60, abs=1e-6)
    assert alpha["usd_saved"] == pytest.approx(1.408 * 17 / 60, abs=1e-6)
    assert alpha["best_job"] == "alpha-good" and alpha["best_survived"] is True
    assert alpha["regret"] == 0.0
    overall = report["overall"]
    assert overall["jobs"] == 10 and overall["stops"] == 2
    assert overall["groups_best_survived"] == 2 and overall["groups_with_best"] == 2
    assert overall["mean_normalized_regret"] == 0.0 and overall["max_normalized_regret"] == 0.0
    assert overall["saved_fraction"] == pytest.approx(34 / 60 / overall["gpu_hours_without"])
    assert report["policy"]["catchup"] == {
        "enabled": True,
        "min_completed": 3,
        "noise_multiple": 8.0,
        "consecutive": 3,
    }
    assert report["policy"]["median"]["enabled"] is False
    assert "sweep" not in report


def test_the_median_rule_by_name(
    curves: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    median = tmp_path / "median.json"
    median.write_text(json.dumps({"median": {"enabled": True}, "catchup": {"enabled": False}}))
    out_json = tmp_path / "out.json"
    code, out, _ = run(capsys, str(curves), "--policy", str(median), "--json", str(out_json))
    assert code == 0 and "median(min_completed=3, grace=0)" in out and "catch-up(" not in out
    (event,) = json.loads(out_json.read_text())["groups"]["alpha"]["stop_events"]
    # M(1) = 1.0, the mean of the three references' running averages' median: stopped at step 1
    assert (event["rule"], event["step"], event["threshold"]) == ("median", 1, 1.0)


def test_observe_mode_reports_without_truncating(
    curves: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_json = tmp_path / "out.json"
    code, out, _ = run(capsys, str(curves), "--mode", "observe", "--json", str(out_json))
    report = json.loads(out_json.read_text())
    assert code == 0 and report["mode"] == "observe" and "would stop" in out
    assert [e["enforced"] for e in report["groups"]["alpha"]["stop_events"]] == [False]


def test_policy_file_and_bad_policy(
    curves: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    strict = tmp_path / "policy.json"
    strict.write_text(json.dumps({"catchup": {"min_completed": 4}}))
    out_json = tmp_path / "out.json"
    code, _, _ = run(capsys, str(curves), "--policy", str(strict), "--json", str(out_json))
    assert code == 0 and json.loads(out_json.read_text())["overall"]["stops"] == 0
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"median": {"min_completed": 0}}))
    code, out, err = run(capsys, str(curves), "--policy", str(bad))
    assert code == 2 and out == "" and "median.min_completed" in err


def test_invalid_lines_are_reported_and_the_rest_is_replayed(
    curves: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.jsonl"
    lines = curves.read_text().splitlines()
    broken.write_text("\n".join([lines[0], "{oops", *lines[1:]]) + "\n")
    code, out, err = run(capsys, str(broken))
    assert code == 0 and "line 2: not valid JSON" in err and "overall" in out


def test_missing_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys)
    assert code == 2 and "CURVES.jsonl" in err
    code, _, err = run(capsys, str(tmp_path / "nope.jsonl"))
    assert code == 2 and "cannot read" in err


def test_plots_and_sweep(curves: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plots = tmp_path / "plots"
    out_json = tmp_path / "out.json"
    code, out, _ = run(
        capsys, str(curves), "--sweep", "--plots", str(plots), "--json", str(out_json)
    )
    assert code == 0
    written = sorted(p.name for p in plots.iterdir())
    assert written == sorted(["alpha.png", "beta_2.png", TRADEOFF_FILE])
    assert all((plots / name).read_bytes()[:8] == PNG_MAGIC for name in written)
    sweep_lines = out.split("sweep: ")[1].splitlines()
    assert sweep_lines[1].split()[:3] == ["min_completed", "grace", "stops"]
    assert len(sweep_lines) >= 3 + 20  # title, header, rule, 5 x 4 rows
    rows = json.loads(out_json.read_text())["sweep"]
    assert [(r["min_completed"], r["grace"]) for r in rows][:5] == [
        (1, 0.0),
        (1, 2.0),
        (1, 5.0),
        (1, 10.0),
        (2, 0.0),
    ]
    assert len(rows) == 20
    # 4 references never exist here: min_completed 5 and 8 stop nothing
    assert all(r["stops"] == 0 for r in rows if r["min_completed"] >= 5)


def test_plots_without_sweep_use_a_small_sweep(
    curves: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plots = tmp_path / "p"
    code, out, _ = run(capsys, str(curves), "--plots", str(plots))
    assert code == 0 and (plots / TRADEOFF_FILE).exists() and "sweep:" not in out
