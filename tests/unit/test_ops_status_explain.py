"""``trainguard status`` and ``explain`` read the evaluator's own numbers: the catch-up
threshold that status shows is the one the tick audited on the same progress; explain's
threshold curve ends at it; the runtime controls change the effective mode, never the rule."""

from __future__ import annotations

import pytest
from test_logic_catchup import report_and_tick, world_with_references
from world import TAGS

from trainguard.config import Controls, Policy, parse_controls, resolve_policy
from trainguard_tools.explain import ascii_plot, explain, format_text
from trainguard_tools.status import job_status

pytestmark = pytest.mark.unit


def test_status_threshold_is_the_one_the_tick_audited() -> None:
    world = world_with_references()
    job = world.start("hopeless")
    for value in (3.0, 2.95, 2.9):
        report_and_tick(world, job, value)
    (audit,) = world.decisions("hopeless")
    record = world.record("hopeless")  # still in the running index: its Stopped event is due
    stats, _ = world.fakes.references.batch_get_group_state([record.reference_set])
    row = job_status(record, Policy(), Controls(), stats, world.fakes.now)
    assert row.thresholds == {"catch-up": pytest.approx(audit["threshold"])}
    assert row.references == audit["references"] == 3
    assert (row.step, row.best) == (audit["step"], audit["value"])


def test_explain_curve_ends_at_the_audited_threshold() -> None:
    world = world_with_references()
    job = world.start("hopeless")
    for value in (3.0, 2.95, 2.9):
        report_and_tick(world, job, value)
    (audit,) = world.decisions("hopeless")
    exp = explain(world.fakes, world.fakes.metrics, "hopeless", Policy(), world.fakes.now)
    assert [d["action"] for d in exp.trail] == [audit["action"]]
    (step, threshold) = exp.thresholds["catch-up"][-1]
    assert step == audit["step"] and threshold == pytest.approx(audit["threshold"])
    assert exp.curve[-1] == (audit["step"], 2.9)
    text = format_text(exp)
    assert "catch-up: STOPPED" in text and "the best final value T=0.25 of 3 completed" in text


def test_pause_and_the_global_mode_change_the_mode_not_the_threshold() -> None:
    world = world_with_references()
    job = world.start("steady", {k: v for k, v in TAGS.items() if k != "trainguard:mode"})
    report_and_tick(world, job, 3.0)
    record = world.record("steady")
    stats, _ = world.fakes.references.batch_get_group_state([record.reference_set])
    plain = job_status(record, Policy(), Controls(), stats, world.fakes.now)
    controls = parse_controls({"GLOBAL": '{"paused": true, "mode": "enforce"}'})
    policy = resolve_policy(Policy(), None, record.group, controls)
    paused = job_status(record, policy, controls, stats, world.fakes.now)
    assert (plain.mode, plain.mode_source) == ("observe", "deploy-time")
    assert (paused.mode, paused.mode_source) == ("enforce (paused: reports only)", "global control")
    assert paused.thresholds == plain.thresholds
    broken = Controls.unreadable("not JSON")  # fails safe: every stop held
    held = job_status(
        record,
        resolve_policy(Policy(mode="enforce"), None, record.group, broken),
        broken,
        stats,
        world.fakes.now,
    )
    assert held.mode == "enforce (paused: reports only)"


def test_the_terminal_plot_marks_the_job_over_its_threshold() -> None:
    lines = ascii_plot(
        {"job": [(1.0, 3.0), (2.0, 2.0)], "catch-up": [(1.0, 1.0), (2.0, 1.0)]}, width=10, height=4
    )
    assert lines[0].endswith("|*") and lines[1].endswith("|         *")
    assert lines[3].endswith("|c        c")
    assert "* job  c catch-up" in lines[-1]
    assert ascii_plot({"job": []}) == ["  (no curve to plot)"]
