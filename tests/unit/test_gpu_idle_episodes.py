"""The GPU-idle rule as an episode rule: its typed key, its answer to an alarm's change and to a
tick in the one shape (:class:`~trainguard.core.episode.Episodes`), and the ledger writing that
answer on the fakes, where its items keep the shape today's readers read."""

from __future__ import annotations

from decimal import Decimal

import pytest

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
from trainguard.logic.ledger import mail_key
from trainguard.models import RunId

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
