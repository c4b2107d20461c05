"""The GPU-idle rule as an episode rule: its typed key, its answer to an alarm's change and to a
tick in the one shape (:class:`~trainguard.core.episode.Episodes`), and the ledger writing that
answer on the fakes, where its items keep the shape today's readers read."""

from __future__ import annotations

from decimal import Decimal

import pytest
from fakes import Fakes
from world import World

from trainguard.config import GpuIdleSettings, Policy
from trainguard.core.episode import (
    HUNG,
    EpisodeKey,
    EpisodeRule,
    Episodes,
    EpisodeState,
    IdleEpisode,
    Opening,
    gpu_idle_key,
    idle_episodes,
    straggler_key,
)
from trainguard.core.gpu_idle import GpuIdleRule
from trainguard.logic.ledger import Ledger, mail_key
from trainguard.models import JobRecord, RunId

pytestmark = pytest.mark.unit

RULE = GpuIdleRule(threshold_pct=10.0, window_minutes=15.0, stop_after_minutes=30.0)
HOST = "job/algo-2"
KEY = gpu_idle_key(HOST)
STARTED = 1_000.0


def alarm(idle: bool, open_since: float | None, now: float) -> Episodes:
    return RULE.on_alarm("job", HOST, idle, open_since, now=now, started=STARTED, hosts_total=2)


def test_the_gpu_idle_key_is_typed_and_writes_todays_texts() -> None:
    assert EpisodeKey(EpisodeRule.GPU_IDLE, HOST) == KEY and KEY.parts() == ("gpu_idle", HOST)
    assert str(KEY) == "gpu_idle:job/algo-2" and KEY.alert(12.4) == "gpu_idle:job/algo-2:12"
    assert EpisodeKey.parse(str(KEY)) == KEY
    assert HUNG.parts() == ("hung",) and str(straggler_key(HOST)) == "straggler:job/algo-2"
    # the once-only key of the alert's email, as the alert function wrote it before the key
    run = RunId("job", 1_767_225_600_000)
    assert mail_key(run, *KEY.parts(), "12") == mail_key(run, "gpu_idle", HOST, "12")
    # the run's idle_hosts map (host -> opened at) by typed key
    assert idle_episodes({HOST: 5.0}) == {KEY: 5.0}


def test_an_alarm_opens_an_episode_with_its_alert_and_ok_closes_it() -> None:
    now = STARTED + 40 * 60.0
    opened = alarm(True, None, now)
    (opening,) = opened.opened
    want = RULE.alert("job", HOST, None, hosts_total=2, elapsed_minutes=40.0)
    assert opening == Opening(KEY, want, now, f"gpu_idle:{HOST}:{now:.0f}")
    assert not opened.closed and opened.stop is None
    # the same ALARM again while it is open: that opening again (its alert said once)
    assert alarm(True, now, now + 300.0) == opened
    # OK closes the open episode, and is nothing without one
    assert alarm(False, now, now + 600.0) == Episodes(closed=(KEY,))
    assert alarm(False, None, now + 900.0) == Episodes()
    # ALARM after the close: a new episode, its own opening and once-only key
    (again,) = alarm(True, None, now + 1200.0).opened
    assert again.since == now + 1200.0 and again.once == f"gpu_idle:{HOST}:{now + 1200.0:.0f}"
    assert again.alert.step == 60.0


def test_at_a_tick_the_rule_answers_the_stop_due_over_its_open_episodes() -> None:
    now = 100_000.0
    open_ = {KEY: now - 20 * 60.0, straggler_key("job/algo-1"): now - 3600.0, HUNG: 0.0}
    # open 20 min + its alarm's 15-min window: past the 30-minute limit
    answer = RULE.episodes("job", open_, now=now, elapsed_minutes=90.0)
    want = RULE.stop_decision("job", {HOST: now - 20 * 60.0}, now=now, elapsed_minutes=90.0)
    assert want is not None and answer == Episodes(stop=want)
    # the other rules' episodes are not this rule's: alone they stop nothing
    del open_[KEY]
    assert RULE.episodes("job", open_, now=now, elapsed_minutes=90.0) == Episodes()
    # not idle long enough yet, or no limit (alert only)
    soon = {KEY: now - 5 * 60.0}
    assert RULE.episodes("job", soon, now=now, elapsed_minutes=90.0) == Episodes()
    assert GpuIdleRule().episodes("job", {KEY: 0.0}, now=now, elapsed_minutes=90.0) == Episodes()


@pytest.mark.parametrize(
    ("item", "want"),
    [
        ({"state": "open", "opened_at": 10.0}, IdleEpisode(KEY, EpisodeState.OPEN, 10.0)),
        (  # as DynamoDB gives it back (numbers as Decimal), with its keys
            {
                "pk": "JOB#job",
                "sk": "x",
                "state": "closed",
                "opened_at": Decimal("10"),
                "closed_at": Decimal("70"),
            },
            IdleEpisode(KEY, EpisodeState.CLOSED, 10.0, 70.0),
        ),
        ({"state": "paused", "opened_at": 10.0}, None),  # no state this code knows
        ({"state": "open"}, None),  # never opened
        (None, None),
    ],
)
def test_an_episode_item_as_stored_is_read_back(
    item: dict[str, object] | None, want: object
) -> None:
    assert IdleEpisode.from_item(HOST, item) == want


def test_the_ledger_writes_a_gpu_idle_answer_on_its_own_items_once() -> None:
    fakes = Fakes()
    world = World(fakes)
    world.start("job", count=2, instance_type="ml.g5.12xlarge")
    record = world.record("job")
    ledger = Ledger(fakes.deps(), fakes.now + 60.0)
    assert ledger.episodes(record, {KEY: fakes.now}) == {KEY}
    assert ledger.episodes(record, {KEY: fakes.now}) == frozenset()  # open already: done
    # today's shapes: the host's item, and the open one mirrored on the run's idle_hosts
    assert fakes.idle_episodes.episode(record.run, HOST) == {
        "state": "open",
        "opened_at": fakes.now,
    }
    assert world.record("job").idle_hosts == {HOST: fakes.now}
    # the other rules' keys go to the run's episodes map, as before
    assert ledger.episodes(record, {HUNG: 5.0}) == {HUNG}
    assert world.record("job").episodes == {"hung": 5.0}
    # closing: at the ledger's time, once
    assert ledger.episodes(record, {KEY: None}) == {KEY}
    assert ledger.episodes(record, {KEY: None}) == frozenset()
    closed = fakes.idle_episodes.episode(record.run, HOST)
    assert closed == {"state": "closed", "opened_at": fakes.now, "closed_at": fakes.now + 60.0}
    assert world.record("job").idle_hosts == {}


def idle_for_40_minutes(world: World) -> None:
    """Job ``idle`` on two 4-GPU hosts for 40 minutes: algo-1 busy, algo-2 at 4 % per GPU."""
    world.start("idle", count=2, instance_type="ml.g5.12xlarge")
    for _ in range(40):
        world.fakes.advance(1)
        for host, summed in (("idle/algo-1", 360.0), ("idle/algo-2", 16.0)):
            world.fakes.metrics.put("GPUUtilization", {"Host": host}, world.fakes.now, summed)


def test_an_episode_opened_by_todays_code_is_read_by_the_alarms_and_the_tick() -> None:
    """An open episode as the alert function wrote it before the rule answered in one shape
    (its item and the run's idle_hosts, by the port's own write): the same ALARM again is a
    duplicate whose email keeps its once-only key, the tick stops the job on it, and an OK
    closes it."""
    policy = Policy(mode="enforce", gpu_idle=GpuIdleSettings(stop_after_minutes=30.0))
    world = World()
    world.fakes.policy = policy
    idle_for_40_minutes(world)
    record = world.record("idle")
    opened_at = world.fakes.now - 20 * 60.0
    assert world.fakes.idle_episodes.open_episode(record.run, "idle/algo-2", opened_at)
    name = "trainguard-gpu-idle-idle-algo-2"
    assert world.alarm(name, "ALARM").action == "duplicate"
    (key,) = [k for _, k in world.fakes.table.items if isinstance(k, str) and "#gpu_idle#" in k]
    assert key == mail_key(record.run, "gpu_idle", "idle/algo-2", f"{opened_at:.0f}")
    tick = world.tick()
    assert tick.stops == 1 and world.fakes.training_jobs.stopped == ["idle"]
    assert world.alarm(name, "OK", previous="ALARM").action == "closed"


class Died(Exception):
    pass


def test_a_retry_after_dying_between_the_write_and_the_email_says_it_once() -> None:
    """The alert function's invocation dies after the ledger wrote the rule's answer and
    before the email was written: the retry of the same delivery finds the episode as written,
    answers the same opening (or close) and says it, once."""
    world = World()
    idle_for_40_minutes(world)
    name = "trainguard-gpu-idle-idle-algo-2"
    world.fakes.outbox.fail("enqueue", Died("opened, not said"))
    with pytest.raises(Died):
        world.alarm(name, "ALARM")
    assert world.record("idle").idle_hosts == {"idle/algo-2": world.fakes.now}
    assert world.emails() == []
    assert world.alarm(name, "ALARM").action == "duplicate"
    assert world.emails() == ["[trainguard] GPU idle: idle/algo-2 (4%/GPU, 31 min)"]
    world.fakes.advance(10)
    world.fakes.outbox.fail("enqueue", Died("closed, not said"))
    with pytest.raises(Died):
        world.alarm(name, "OK", previous="ALARM")
    assert world.record("idle").idle_hosts == {}
    assert world.alarm(name, "OK", previous="ALARM").action == "duplicate"
    assert world.emails() == ["[trainguard] GPU recovered: idle/algo-2 (after 10 min)"]


def test_status_lists_the_open_episodes_by_typed_key_as_before() -> None:
    """``trainguard status`` reads the run's idle_hosts and episodes (as stored) by typed key;
    its lines are those it printed when it split the stored text on ``:``."""
    from trainguard_tools.status import open_alerts

    job = JobRecord(
        name="j",
        created_ms=1,
        tags={},
        opted_in=True,
        group="g",
        start_time=0.0,
        idle_hosts={"j/algo-3": 3600.0, "j/algo-1": 60.0},
        episodes={
            "unwatched:objective_missing": 0.0,  # a coverage cause: not an episode
            "throughput": 7200.0,
            "straggler:j/algo-2": 120.0,
            "hung": 180.0,
        },
    )
    assert open_alerts(job, 10_000.0) == [
        "gpu idle j/algo-1 since 00:01 UTC",
        "gpu idle j/algo-3 since 01:00 UTC",
        "hung since 00:03 UTC",
        "straggler j/algo-2 since 00:02 UTC",
        "throughput since 02:00 UTC",
    ]


def test_a_once_only_key_reads_back_as_its_episode_and_time() -> None:
    assert EpisodeKey.opened(KEY.alert(12.4)) == (KEY, 12.0)
    assert EpisodeKey.opened(HUNG.alert(1767225600.0)) == (HUNG, 1767225600.0)
    assert EpisodeKey.opened(straggler_key(HOST).alert(5.0)) == (straggler_key(HOST), 5.0)
    # an episode's own text, a rule's name, an unknown rule: no once-only key
    for text in (str(straggler_key(HOST)), "hung", "median", "other:12", "hung:soon"):
        assert EpisodeKey.opened(text) is None
