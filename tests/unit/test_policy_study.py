"""Issue 24's study driver (bench/policy_study.py) on small inputs: through its hooks, the
catch-up default decides as the frontier's row does, stop for stop; every candidate of the
study's table parses and replays; the family store learns only completed jobs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from trainguard_tools.curvefile import load_curves

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/ is outside the wheel
from bench.frontier import DEFAULT_KEY, replay_dataset, rows
from bench.policy_study import (
    STUDY,
    FamilyStore,
    parse_candidate,
    replay_candidate,
)

pytestmark = pytest.mark.unit
DATA = Path(__file__).resolve().parents[2] / "data"


def hpo_dev() -> list:
    records, errors = load_curves(DATA / "hpo_dev.jsonl")
    assert not errors
    return [[r for r in records if r.group in {"anes96-mlp", "diabetes-mlp"}]]


def stops(result) -> list[tuple[str, float | None]]:
    return sorted(
        (job, o.stop.step)
        for r in result.results
        for job, o in r.outcomes.items()
        if o.stop is not None and o.stop.enforced
    )


def test_the_default_through_the_study_is_the_frontiers_default() -> None:
    files = hpo_dev()
    row = next(r for r in rows(quick=True) if r.key == DEFAULT_KEY)
    theirs = replay_dataset(files, row, 2)
    ours = replay_candidate(files, parse_candidate("k=8"), 2)
    assert stops(ours) == stops(theirs) and stops(ours)
    assert ours.to_dict() == theirs.to_dict()


def test_every_candidate_of_the_table_replays() -> None:
    files = hpo_dev()
    default = replay_candidate(files, parse_candidate("k=8"), 1)
    for spec in STUDY:
        c = parse_candidate(spec)
        assert c.key == spec
        result = replay_candidate(files, c, 1)
        assert result.replays == default.replays
        assert 0.0 <= (result.saved_fraction or 0.0) < 1.0


def test_the_family_store_folds_each_job_once() -> None:
    store = FamilyStore({"a": "mlp", "b": "mlp", "c": None})
    curves = {"a": [(1.0, 1.0), (2.0, 0.5)], "b": [(1.0, 1.0), (2.0, 0.75)]}
    store.fold(curves, "minimize", 0.25)
    before = store.model("minimize")
    store.fold(curves, "minimize", 0.25)  # the same completions again: nothing new
    assert store.model("minimize") is before
    assert before.families["mlp"].count == (2, 2)
    store.fold({"c": [(1.0, 1.0), (2.0, 0.5)]}, "minimize", 0.25)  # no family: not kept
    assert set(store.model("minimize").families) == {"mlp"}
