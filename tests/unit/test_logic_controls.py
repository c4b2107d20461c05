"""The runtime controls in the tick: a pause, the global and per-group mode, the protect tag,
and unusable controls failing safe (no stop, alerts go on)."""

from __future__ import annotations

import pytest
from fakes import FakeJob
from world import TAGS, World

from trainguard.config import ControlsError, parse_controls

pytestmark = pytest.mark.unit

REFERENCES = [1.0 - 0.02 * i for i in range(10)]


@pytest.fixture
def world() -> World:
    world = World()
    for i in range(3):
        world.complete_with(f"ref-{i}", [v + 0.01 * i for v in REFERENCES])
    world.emails()
    return world


def worse_job(world: World, name: str = "worse", **tags: str) -> FakeJob:
    job = world.start(name, {**TAGS, **tags})
    world.report(job, [1.5 - 0.01 * i for i in range(5)])
    world.fakes.advance(6)
    return job


def test_a_pause_holds_every_stop_and_says_who_paused_and_why(world: World) -> None:
    world.fakes.controls.set(paused=True, by="ana", reason="quota review")
    worse_job(world)
    tick = world.tick()
    assert (tick.stops, tick.would_stops, tick.paused) == (0, 1, True)
    assert world.fakes.training_jobs.calls["stop"] == 0
    (subject,) = world.emails()
    assert subject.startswith("[trainguard] WOULD STOP (paused) worse")
    (audit,) = world.decisions("worse")
    assert audit["mode"] == "enforce (paused by ana: quota review)"


def test_after_resume_the_next_tick_stops_what_the_pause_held(world: World) -> None:
    world.fakes.controls.set(paused=True, by="ana")
    worse_job(world, "first")
    assert world.tick().would_stops == 1
    world.emails()
    world.fakes.controls.set(paused=False, by="ana", reason="done")
    worse_job(world, "second")
    tick = world.tick()
    # as after a switch from observe to enforce: a job still worse than its threshold is
    # stopped now; each stop is said once
    assert tick.stops == 2 and sorted(world.fakes.training_jobs.stopped) == ["first", "second"]
    assert sorted(s.split()[2].rstrip(":") for s in world.emails()) == ["first", "second"]


def test_a_stop_claimed_before_the_pause_is_not_carried_out_after_it(world: World) -> None:
    job = worse_job(world)
    world.fakes.training_jobs.fail("describe", RuntimeError("crash after the claim"))
    world.tick()  # claimed, then the re-check crashed: the action stays open
    assert world.fakes.training_jobs.stopped == []
    world.fakes.controls.set(paused=True, by="ana", reason="incident")
    world.fakes.advance(1)
    world.tick()
    assert world.fakes.training_jobs.stopped == [] and job.status == "InProgress"
    (audit,) = world.decisions("worse")
    assert audit["action"] == "NOT STOPPED (paused by ana: incident)"


def test_a_group_pause_holds_only_that_group(world: World) -> None:
    world.fakes.controls.set("GROUP#other", paused=True, reason="demo day")
    worse_job(world)  # TAGS' group is not paused
    assert world.tick().stops == 1


def test_the_runtime_mode_overrides_the_deployed_one_and_the_tag_wins(world: World) -> None:
    assert world.fakes.policy.mode == "observe"  # the deployed default
    untagged = {k: v for k, v in TAGS.items() if k != "trainguard:mode"}
    world.fakes.controls.set(mode="enforce")
    for name, tags in (("by-global", untagged), ("by-tag", {**TAGS, "trainguard:mode": "observe"})):
        world.report(world.start(name, tags), [1.5] * 5)
    world.fakes.advance(6)
    tick = world.tick()
    assert world.fakes.training_jobs.stopped == ["by-global"] and tick.would_stops == 1


def test_a_group_mode_overrides_the_global_one(world: World) -> None:
    untagged = {k: v for k, v in TAGS.items() if k != "trainguard:mode"}
    world.fakes.controls.set(mode="enforce")
    world.fakes.controls.set(f"GROUP#{TAGS['trainguard:group']}", mode="observe")
    world.report(world.start("held", untagged), [1.5] * 5)
    world.fakes.advance(6)
    tick = world.tick()
    assert (tick.stops, tick.would_stops) == (0, 1)


def test_a_protected_job_is_reported_never_stopped(world: World) -> None:
    worse_job(world, "keep-me", **{"trainguard:protect": "true"})
    tick = world.tick()
    assert (tick.stops, tick.would_stops) == (0, 1)
    (subject,) = world.emails()
    assert subject.startswith("[trainguard] WOULD STOP (protected) keep-me")


def test_a_protect_tag_added_after_registration_stops_the_stop(world: World) -> None:
    job = worse_job(world, "late-protect")
    job.tags["trainguard:protect"] = "TRUE"  # the registered tags do not have it
    world.tick()
    assert world.fakes.training_jobs.stopped == []
    (audit,) = world.decisions("late-protect")
    assert audit["action"] == "NOT STOPPED (protected: its trainguard:protect tag was set)"


def test_a_bad_protect_value_is_a_config_notice_not_a_stop(world: World) -> None:
    worse_job(world, "typo", **{"trainguard:protect": "yes"})
    tick = world.tick()
    assert tick.stops == 0 and world.fakes.training_jobs.calls["stop"] == 0
    assert any("trainguard:protect must be 'true' or 'false'" in s for s in world.emails())


@pytest.mark.parametrize(
    "items",
    [
        {"GLOBAL": "{not json"},
        {"GLOBAL": '{"paused": "yes"}'},
        {"GLOBAL": '{"mode": "stop-everything"}'},
        {"GROUP#": "{}"},
        {"SOMETHING": "{}"},
    ],
)
def test_unusable_controls_hold_every_stop_and_alerts_go_on(
    world: World, items: dict[str, str]
) -> None:
    world.fakes.controls.items = dict(items)
    worse_job(world)
    tick = world.tick()
    assert tick.stops == 0 and tick.would_stops == 1
    assert tick.controls_error is not None and "every stop is held" in tick.controls_error
    (subject,) = world.emails()
    assert "WOULD STOP (paused) worse" in subject
    (audit,) = world.decisions("worse")
    assert "the runtime controls cannot be read" in audit["mode"]


def test_an_unreadable_control_item_fails_safe(world: World) -> None:
    world.fakes.controls.fail("read", RuntimeError("AccessDenied"), times=5)
    worse_job(world)
    tick = world.tick()
    assert tick.stops == 0 and tick.would_stops == 1 and "AccessDenied" in str(tick.controls_error)


def test_parse_names_the_bad_item() -> None:
    with pytest.raises(ControlsError, match=r"control GROUP#g: unknown key 'pasued'"):
        parse_controls({"GROUP#g": '{"pasued": true}'})
    controls = parse_controls({"GLOBAL": "{}", "GROUP#g": '{"paused": true, "by": "x"}'})
    assert controls.pause("g") == "group g paused by x" and controls.pause("h") is None


def test_a_pause_written_after_the_cached_read_holds_the_stop(world: World) -> None:
    """The controls' cache (CONTROLS_MAX_AGE_S) let the first tick after a pause stop a job
    0.1 s after the pause was announced: the stop re-reads them right before StopTrainingJob."""
    worse_job(world)
    world.fakes.controls.cache()  # the tick's read: cached before the pause
    world.fakes.controls.set(paused=True, by="ana", reason="incident")
    tick = world.tick()
    assert world.fakes.training_jobs.calls["stop"] == 0 and tick.stops == 0
    assert world.fakes.controls.fresh_reads == 1
    (audit,) = world.decisions("worse")
    assert audit["action"] == "NOT STOPPED (paused by ana: incident)"


def test_a_runtime_observe_set_after_the_cached_read_holds_the_stop(world: World) -> None:
    untagged = {k: v for k, v in TAGS.items() if k != "trainguard:mode"}
    world.fakes.controls.set(mode="enforce")
    world.report(world.start("moded", untagged), [1.5] * 5)
    world.fakes.advance(6)
    world.fakes.controls.cache()
    world.fakes.controls.set(mode="observe", by="ana")
    world.tick()
    assert world.fakes.training_jobs.calls["stop"] == 0
    (audit,) = world.decisions("moded")
    assert audit["action"].startswith("NOT STOPPED (observe now: the runtime mode changed")


def test_unchanged_controls_still_stop_after_the_fresh_read(world: World) -> None:
    worse_job(world)
    world.fakes.controls.cache()
    assert world.tick().stops == 1 and world.fakes.controls.fresh_reads == 1
