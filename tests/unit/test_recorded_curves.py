"""The committed learning curves (data/curves.jsonl) and the recorder that wrote them."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from collections import Counter
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from trainguard.core.instances import DEFAULT_CATALOG

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
CURVES = ROOT / "data" / "curves.jsonl"
REQUIRED = {
    "job": str,
    "group": str,
    "status": str,
    "objective": str,
    "direction": str,
    "start_minute": float,
    "minutes_per_step": float,
    "instance_type": str,
    "instance_count": int,
    "curve": list,
    "hyperparameters": dict,
}


@cache
def recorder() -> ModuleType:
    """tools/record_curves.py is a script, not a package module: load it by path."""
    spec = importlib.util.spec_from_file_location("record_curves", ROOT / "tools/record_curves.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


@cache
def jobs() -> tuple[dict[str, Any], ...]:
    out = []
    with CURVES.open() as f:
        for number, line in enumerate(f, start=1):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as exc:
                pytest.fail(f"{CURVES.name} line {number}: {exc}")
    return tuple(out)


def values(job: dict[str, Any]) -> list[float | None]:
    return [v for _, v in job["curve"]]


def is_overfit(curve: list[float | None], margin: float = 0.1) -> bool:
    """Independent of the recorder: minimum well before the end, final clearly above it."""
    finite = [v for v in curve if v is not None]
    if len(finite) < len(curve):
        return False
    best = min(finite)
    at = finite.index(best)
    final = finite[-1]
    return 0 < at <= len(finite) - 5 and final > best * (1 + margin) and final - best > 0.01


def test_file_is_small_and_every_line_has_the_curve_format() -> None:
    assert CURVES.stat().st_size < 5 * 1024 * 1024
    for job in jobs():
        for key, kind in REQUIRED.items():
            assert isinstance(job[key], kind), (job["job"], key)
        assert job["job"].startswith(job["group"] + "-")
        assert job["status"] in {"Completed", "Failed"}
        assert (job["objective"], job["direction"]) == ("validation:loss", "minimize")
        assert job["instance_type"] in DEFAULT_CATALOG
        assert job["instance_count"] in {1, 2}
        assert job["start_minute"] >= 0
        assert 1.0 <= job["minutes_per_step"] <= 6.0
        assert job["seconds_per_epoch"] > 0
    assert len({job["job"] for job in jobs()}) == len(jobs())


def test_enough_groups_jobs_and_epochs() -> None:
    per_group = Counter(job["group"] for job in jobs())
    assert len(per_group) >= 4
    assert len(jobs()) >= 120
    assert min(per_group.values()) >= 30
    for job in jobs():
        if job["status"] == "Completed":
            assert len(job["curve"]) >= 30, job["job"]
            assert all(v is not None and math.isfinite(v) for v in values(job)), job["job"]


def test_steps_are_epochs_one_to_n_and_accuracy_aligns() -> None:
    for job in jobs():
        steps = [s for s, _ in job["curve"]]
        assert steps == list(range(1, len(steps) + 1)), job["job"]
        acc = job["accuracy_curve"]
        assert [s for s, _ in acc] == steps
        assert all(a is None or 0.0 <= a <= 1.0 for _, a in acc)


def test_diverged_jobs_end_in_null_and_failed() -> None:
    diverged = [job for job in jobs() if values(job)[-1] is None]
    assert len(diverged) >= 3
    assert len({job["group"] for job in diverged}) >= 2
    for job in jobs():
        curve = values(job)
        assert (job["status"] == "Failed") == (curve[-1] is None), job["job"]
        assert None not in curve[:-1], job["job"]  # recording stops at the first non-finite


def test_some_jobs_overfit() -> None:
    overfit = [job for job in jobs() if is_overfit(values(job))]
    assert len(overfit) >= 5
    assert len({job["group"] for job in overfit}) >= 3


def test_jobs_are_staggered_in_waves() -> None:
    for group in {job["group"] for job in jobs()}:
        starts = [job["start_minute"] for job in jobs() if job["group"] == group]
        assert starts == sorted(starts)  # numbered in launch order
        assert max(starts) - min(starts) > 120  # launched over hours, not all at once


def test_training_is_deterministic_for_a_seed() -> None:
    rc = recorder()
    config = rc.JobConfig(dataset="wine", hidden=(8,), optimizer="adam", lr=0.01, batch_size=16)
    first = rc.train(config, 3, seed=(0, 1, 2))
    again = rc.train(config, 3, seed=(0, 1, 2))
    other = rc.train(config, 3, seed=(0, 1, 3))
    assert len(first.loss) == 3
    assert (first.loss, first.accuracy) == (again.loss, again.accuracy)
    assert first.loss != other.loss


def test_committed_jobs_retrain_to_the_same_curve() -> None:
    """The data came from this recorder: retrain a few epochs of recorded jobs."""
    rc = recorder()
    wine = [job for job in jobs() if job["group"] == "wine-mlp"]
    completed = next(job for job in wine if job["status"] == "Completed")
    failed = min(
        (job for job in wine if job["status"] == "Failed"), key=lambda job: len(job["curve"])
    )
    for job, epochs in ((completed, 3), (failed, len(failed["curve"]))):
        hp = job["hyperparameters"]
        result = rc.train(rc.JobConfig.from_hyperparameters(hp), epochs, hp["seed"], hp["seed"][0])
        expected = values(job)[:epochs]
        assert len(result.loss) == len(expected), job["job"]
        for got, want in zip(result.loss, expected, strict=True):
            if want is None:
                assert got is None
            else:
                assert got == pytest.approx(want, rel=1e-4), job["job"]


def test_minutes_per_step_maps_the_group_spread_onto_one_to_six() -> None:
    rc = recorder()
    assert rc.minutes_per_step(0.001, 0.001, 0.01) == 1.0
    assert rc.minutes_per_step(0.01, 0.001, 0.01) == 6.0
    assert rc.minutes_per_step(math.sqrt(0.001 * 0.01), 0.001, 0.01) == pytest.approx(3.5)
    assert rc.minutes_per_step(0.002, 0.002, 0.002) == 1.0
