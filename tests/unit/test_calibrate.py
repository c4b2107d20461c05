"""``trainguard calibrate`` on curve files: the frontier, the recommendation, too little history,
a target no rung reaches, the POLICY items and their validation (no AWS: the writes are in
tests/integration/test_calibrate_apply.py). The groups are small subsets of data/ (single LCDB
groups of about 20 jobs): the whole of LCDB is the bench's."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from trainguard.config import Policy
from trainguard.core.catchup import LADDER
from trainguard_tools.calibrate import (
    CalibrateError,
    calibrate,
    format_calibration,
    needed_completed,
    policy_items,
)
from trainguard_tools.cli import main
from trainguard_tools.curvefile import CurveRecord, dump_curves, load_curves

pytestmark = pytest.mark.unit

DATA = Path(__file__).resolve().parents[2] / "data"


def group_of(file: str, group: str) -> list[CurveRecord]:
    records, errors = load_curves(DATA / file)
    assert errors == []
    return [r for r in records if r.group == group]


@pytest.fixture(scope="module")
def lcdb_14() -> list[CurveRecord]:
    return group_of("lcdb_dev_a.jsonl", "lcdb-14")  # 20 learners, no ties at the top


@pytest.fixture(scope="module")
def lcdb_914() -> list[CurveRecord]:
    return group_of("lcdb_dev_a.jsonl", "lcdb-914")  # a Perceptron tied for the best at 0.878


def write(tmp_path: Path, records: list[CurveRecord], name: str = "curves.jsonl") -> Path:
    path = tmp_path / name
    dump_curves(records, path)
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["calibrate", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_frontier_and_the_recommendation(lcdb_14: list[CurveRecord]) -> None:
    c = calibrate(lcdb_14, "lcdb-14", orders=3, source="lcdb-14")
    assert c.enough_history and c.completed == 20 and c.needed == 7
    assert {(r.noise_multiple, r.consecutive) for r in c.rungs} == set(LADDER)
    saved = [r.result.saved_fraction or 0.0 for r in c.rungs]
    assert saved == sorted(saved, reverse=True)  # the frontier, most savings first
    assert all(r.result.orders == 3 and r.result.replays == 3 for r in c.rungs)
    meeting = [r for r in c.rungs if (r.result.best_kept or 0.0) >= 0.95]
    assert c.meets_target and c.chosen is meeting[0]
    # at 3 reports, savings fall as k grows (the ladder's knob)
    at3 = sorted((r for r in c.rungs if r.consecutive == 3), key=lambda r: r.noise_multiple)
    s3 = [r.result.saved_fraction or 0.0 for r in at3]
    assert s3 == sorted(s3, reverse=True) and s3[0] > s3[-1]
    assert c.settings() == {
        "catchup": {
            "enabled": True,
            "min_completed": 3,
            "noise_multiple": c.chosen.noise_multiple,
            "consecutive": c.chosen.consecutive,
        }
    }
    text = format_calibration(c)
    assert "<- recommended" in text and "default" in text and "recommendation: k " in text


def test_a_stricter_target_picks_a_safer_rung(lcdb_914: list[CurveRecord]) -> None:
    # the best job is lost in some replays at every rung here (a tie): nothing reaches 95 %
    c = calibrate(lcdb_914, "lcdb-914", orders=4)
    assert not c.meets_target and c.chosen is not None
    kept = [r.result.best_kept or 0.0 for r in c.rungs]
    assert (c.chosen.result.best_kept or 0.0) == max(kept)
    assert "no setting keeps the best job in 95.0 %" in format_calibration(c)
    # a target that the group's history allows is met by its most saving rung
    low = calibrate(lcdb_914, "lcdb-914", orders=4, keep_best=0.0)
    assert low.meets_target and low.chosen is low.rungs[0]


def test_too_little_history_keeps_the_default(lcdb_14: list[CurveRecord]) -> None:
    few = lcdb_14[:6]
    c = calibrate(few, "lcdb-14")
    assert not c.enough_history and c.rungs == () and c.chosen is None
    assert c.settings()["catchup"]["noise_multiple"] == 8.0
    assert c.to_dict()["status"] == "too_little_history"
    assert "too little history: the ladder needs at least 7 completed jobs" in (
        format_calibration(c)
    )
    # the threshold follows min_completed: 2 x 2 + 1 = 5
    two = Policy.from_mapping({"catchup": {"min_completed": 2}})
    assert needed_completed(two) == 5 and calibrate(few, "lcdb-14", policy=two).enough_history


def test_only_completed_jobs_count(lcdb_14: list[CurveRecord]) -> None:
    failed = [replace(r, status="Failed") for r in lcdb_14[7:]]
    c = calibrate([*lcdb_14[:7], *failed], "lcdb-14", orders=1)
    assert c.completed == 7 and c.enough_history


def test_cli_table_json_and_too_little_history_exits_0(
    lcdb_14: list[CurveRecord], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, lcdb_14)
    out_json = tmp_path / "out.json"
    code, out, err = run(capsys, str(path), "--orders", "2", "--json", str(out_json))
    assert code == 0 and err == ""
    assert "trainguard calibrate: group lcdb-14, 20 completed job(s)" in out
    report = json.loads(out_json.read_text())
    assert report["status"] == "ok" and len(report["frontier"]) == len(LADDER)
    row = report["frontier"][0]
    assert set(row) >= {
        "noise_multiple",
        "consecutive",
        "saved_fraction",
        "best_kept",
        "mean_normalized_regret",
        "max_normalized_regret",
    }
    assert report["recommendation"]["meets_target"] is True and report["applied"] is None
    few = write(tmp_path, lcdb_14[:5], "few.jsonl")
    # --apply with too little history: said, nothing applied, exit 0, no AWS call at all
    code, out, _ = run(capsys, str(few), "--apply", "--table", "t")
    assert code == 0 and "too little history" in out and "nothing applied" in out


def test_apply_refuses_when_no_rung_reaches_the_target(
    lcdb_914: list[CurveRecord], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, lcdb_914)
    code, out, err = run(capsys, str(path), "--orders", "2", "--apply", "--table", "t")
    assert code == 1 and "nothing applied (no setting reaches the target)" in err
    assert "applied:" not in out


def test_input_errors(
    lcdb_14: list[CurveRecord], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = [replace(r, group="other", job=f"other-{r.job}") for r in lcdb_14]
    two = write(tmp_path, [*lcdb_14, *other])
    code, _, err = run(capsys, str(two))
    assert code == 2 and "holds 2 groups: pick one with --group" in err
    code, _, err = run(capsys, str(two), "--group", "nope")
    assert code == 2 and "no job of group 'nope'" in err
    code, _, err = run(capsys)
    assert code == 2 and "CURVES.jsonl or --from-cloudwatch" in err
    code, _, err = run(capsys, str(two), "--group", "other", "--keep-best", "1.5")
    assert code == 2 and "--keep-best must be between 0 and 1" in err
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"catchup": {"noise_multiple": -1}}))
    code, _, err = run(capsys, str(two), "--group", "other", "--policy", str(bad))
    assert code == 2 and "catchup.noise_multiple" in err


def test_policy_items_shape_and_validation() -> None:
    at = datetime(2026, 3, 1, 12, 30, 5, 123000, tzinfo=UTC)
    settings = {"catchup": {"enabled": True, "noise_multiple": 6.0, "consecutive": 3}}
    current, history = policy_items(
        "g", settings, applied_by="arn:aws:iam::1:user/me", applied_at=at, source={"row": {}}
    )
    assert (current["pk"], current["sk"]) == ("GROUP#g", "POLICY")
    assert (history["pk"], history["sk"]) == ("GROUP#g", "POLICY#2026-03-01T12:30:05.123Z")
    body = {k: v for k, v in current.items() if k not in ("pk", "sk")}
    assert body == {k: v for k, v in history.items() if k not in ("pk", "sk")}
    assert body["applied_at"] == "2026-03-01T12:30:05.123Z" and body["settings"] == settings
    with pytest.raises(CalibrateError, match=r"catchup\.noise_multiple"):
        policy_items(
            "g",
            {"catchup": {"noise_multiple": -1.0}},
            applied_by="x",
            applied_at=at,
            source={},
        )
    with pytest.raises(CalibrateError, match="sections of the policy only"):
        policy_items("g", {"mode": {"x": 1}}, applied_by="x", applied_at=at, source={})


def test_a_missing_stack_is_a_clear_error(
    lcdb_14: list[CurveRecord],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from trainguard_tools import calibrate, stack

    def no_stack(name: str, *, session: Any) -> Any:
        raise stack.OpsError(f"stack {name} not found in eu-west-1: deploy trainguard there")

    monkeypatch.setattr(calibrate, "connect", no_stack)
    path = write(tmp_path, lcdb_14)
    code, _, err = run(capsys, str(path), "--orders", "1", "--apply", "--stack", "Nope")
    assert code == 2
    assert "stack Nope not found in eu-west-1: deploy trainguard there; or pass --table" in err


def test_missing_credentials_are_a_clear_error(
    lcdb_14: list[CurveRecord],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata lookup
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    path = write(tmp_path, lcdb_14)
    code, _, err = run(capsys, str(path), "--orders", "1", "--apply", "--table", "t")
    assert code == 2 and "no AWS credentials" in err


def test_calibrate_can_play_revivals(lcdb_14: list[CurveRecord]) -> None:
    from trainguard_tools.replay.engine import Revival

    off = calibrate(lcdb_14, "lcdb-14", orders=2)
    auto = calibrate(lcdb_14, "lcdb-14", orders=2, revival=Revival())
    assert auto.to_dict()["revive"] == {"mode": "auto", "restart_minutes": 10.0}
    assert off.to_dict()["revive"] == {"mode": "off"}
    by_rung = {(r.noise_multiple, r.consecutive): r.result for r in off.rungs}
    for rung in auto.rungs:  # a revival's time is spent: it never saves more
        alone = by_rung[(rung.noise_multiple, rung.consecutive)]
        assert (rung.result.saved_fraction or 0.0) <= (alone.saved_fraction or 0.0) + 1e-12
    assert any(
        r.result.saved_fraction != by_rung[(r.noise_multiple, r.consecutive)].saved_fraction
        for r in auto.rungs
    )  # revivals happened
