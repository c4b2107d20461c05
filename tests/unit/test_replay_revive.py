"""``trainguard replay --revive auto`` (the engine's :class:`Revival`) on a group of the LCDB
development set whose best job the default policy stops: a completion changes the evidence,
the stopped best is judged again on its frozen curve, restarts after the restart minutes,
continues its curve and is found; its restart is counted as spent; a job whose curve file says
``"checkpoint": false`` is never revived; with revival off nothing changes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from trainguard.config import Policy
from trainguard_tools.curvefile import CurveRecord, load_curves
from trainguard_tools.replay.engine import Revival, replay

pytestmark = pytest.mark.unit

DATA = Path(__file__).resolve().parents[2] / "data" / "lcdb_dev_a.jsonl"
GROUP = "lcdb-846"
ENFORCE = Policy.from_mapping({"mode": "enforce"})


def group_records() -> list[CurveRecord]:
    records, errors = load_curves(str(DATA))
    assert not errors
    return [r for r in records if r.group == GROUP]


def test_revival_finds_the_stopped_best_and_counts_its_restart() -> None:
    records = group_records()
    off = replay(records, ENFORCE).groups[GROUP]
    auto = replay(records, ENFORCE, revival=Revival(restart_minutes=10.0)).groups[GROUP]
    assert off.best_survived is False and off.revived_jobs == 0
    assert auto.best_survived is True and auto.best_value_with == off.best_value_without
    assert (auto.revived_jobs, auto.revived_then_stopped) == (1, 0)
    assert auto.delay_to_best_minutes == 60.0
    assert auto.gpu_hours_with > off.gpu_hours_with  # the revived run and its restart: spent
    longer = replay(records, ENFORCE, revival=Revival(restart_minutes=30.0)).groups[GROUP]
    assert longer.gpu_hours_with > auto.gpu_hours_with
    assert longer.delay_to_best_minutes == 80.0
    overall = replay(records, ENFORCE, revival=Revival()).to_dict()["overall"]
    assert overall["revived_jobs"] == 1 and overall["groups_best_found"] == 1
    assert overall["median_delay_to_best_minutes"] == 60.0


def test_a_job_without_checkpoints_is_never_revived() -> None:
    records = group_records()
    best = replay(records, ENFORCE).groups[GROUP].best_job
    plain = [
        replace(r, extras={**r.extras, "checkpoint": False}) if r.job == best else r
        for r in records
    ]
    auto = replay(plain, ENFORCE, revival=Revival()).groups[GROUP]
    assert auto.best_survived is False
    assert replay(plain, ENFORCE).to_dict() == replay(plain, ENFORCE, revival=None).to_dict()
