"""Straggler rule: one host of a multi-node job well below the median of the others while they
are busy, for a covered window; its numbers, its boundaries, and one alert per episode."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainguard.core.curves import median
from trainguard.core.straggler import StragglerRule, StragglerStatus, straggler_episodes

pytestmark = pytest.mark.unit

BASE = 1_700_000_040.0  # a whole minute, epoch s
GPUS = 8
RULE = StragglerRule()

Samples = dict[str, list[tuple[float, float]]]


def at(minute: float) -> float:
    return BASE + 60.0 * minute


def job(n: int, minutes: Iterable[int], per_gpu: Callable[[int, int], float]) -> Samples:
    """``n`` hosts ``job/algo-<h>``, one summed sample a minute of ``per_gpu(minute, h)``."""
    ms = list(minutes)
    return {f"job/algo-{h}": [(at(m), per_gpu(m, h) * GPUS) for m in ms] for h in range(1, n + 1)}


def one_slow(slow: int, low: float, high: float) -> Callable[[int, int], float]:
    return lambda m, h: low if h == slow else high


def test_a_single_host_is_never_a_straggler() -> None:
    assert RULE.statuses(job(1, range(30), lambda m, h: 1.0), GPUS) == ()
    assert RULE.statuses({}, GPUS) == ()
    # two hosts of which only one reports: nothing to compare with
    only_one = {**job(1, range(30), lambda m, h: 1.0), "job/algo-2": []}
    assert RULE.statuses(only_one, GPUS) == ()


def test_the_alert_gives_the_host_its_level_and_the_others_median() -> None:
    (status,) = RULE.stragglers(job(4, range(30), one_slow(3, 45.0, 95.0)), GPUS)
    assert (status.host, status.per_gpu_mean, status.others_median, status.gap) == (
        "job/algo-3",
        45.0,
        95.0,
        50.0,
    )
    assert (status.others, status.samples, status.below_now) == (3, 10, True)
    decision = RULE.alert("job", status, elapsed_minutes=29)
    assert (decision.rule, decision.alert, decision.stop, decision.value, decision.threshold) == (
        "straggler",
        True,
        False,
        45.0,
        95.0,
    )
    assert decision.reason == (
        "job/algo-3 at 45% per GPU vs 95% median of the other 3 hosts for 10 min "
        "(50 points below, margin 30)"
    )


def test_two_hosts_one_slow() -> None:
    (status,) = RULE.stragglers(job(2, range(30), one_slow(1, 40.0, 90.0)), GPUS)
    assert RULE.alert("job", status, elapsed_minutes=29).reason == (
        "job/algo-1 at 40% per GPU vs 90% median of the other host for 10 min "
        "(50 points below, margin 30)"
    )


def test_one_host_of_eight_is_named_among_noisy_busy_hosts() -> None:
    rng = random.Random(13)
    noise = {(m, h): rng.uniform(-4.0, 4.0) for m in range(30) for h in range(1, 9)}
    hosts = job(8, range(30), lambda m, h: (40.0 if h == 5 else 94.0) + noise[m, h])
    statuses = RULE.statuses(hosts, GPUS)
    assert [s.host for s in statuses if s.straggling] == ["job/algo-5"]
    slow = next(s for s in statuses if s.straggling)
    assert slow.others == 7
    assert 90.0 < slow.others_median < 98.0
    assert 36.0 < slow.per_gpu_mean < 44.0
    # the healthy hosts are near the median, never below it by the margin
    assert all(s.below_now is False for s in statuses if not s.straggling)


@settings(max_examples=150, deadline=None)
@given(
    level=st.floats(50.0, 86.0),
    hosts=st.integers(2, 16),
    seed=st.integers(0, 2**32 - 1),
)
def test_hosts_noisy_around_one_level_name_no_straggler(
    level: float, hosts: int, seed: int
) -> None:
    """Noise of +-14 points cannot put one host 30 points below the median of the others."""
    rng = random.Random(seed)
    noise = {(m, h): rng.uniform(-14.0, 14.0) for m in range(20) for h in range(1, hosts + 1)}
    assert RULE.stragglers(job(hosts, range(20), lambda m, h: level + noise[m, h]), GPUS) == ()


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(
        st.lists(st.floats(0.0, 100.0), min_size=3, max_size=3), min_size=10, max_size=10
    )
)
def test_the_others_median_is_the_median_of_the_other_hosts_at_each_minute(
    values: list[list[float]],
) -> None:
    hosts = job(3, range(10), lambda m, h: values[m][h - 1])
    for status in RULE.statuses(hosts, GPUS):
        h = int(status.host.rsplit("-", 1)[1]) - 1
        per_minute = [
            median([hosts[f"job/algo-{o + 1}"][m][1] / GPUS for o in range(3) if o != h])
            for m in range(10)
        ]
        assert status.others_median == pytest.approx(sum(per_minute) / 10)
        assert status.per_gpu_mean == pytest.approx(
            sum(hosts[status.host][m][1] / GPUS for m in range(10)) / 10
        )


@pytest.mark.parametrize(
    ("low", "high", "straggling"),
    [
        (65.0, 95.0, False),  # exactly the margin below: not below it
        (64.5, 95.0, True),
        (5.0, 50.0, True),  # the others' median exactly busy
        (5.0, 49.5, False),  # the others are not busy: some other phase
    ],
)
def test_margin_and_busy_boundaries(low: float, high: float, straggling: bool) -> None:
    statuses = RULE.statuses(job(4, range(30), one_slow(2, low, high)), GPUS)
    assert [s.host for s in statuses if s.straggling] == (["job/algo-2"] if straggling else [])


def test_a_job_wide_slowdown_names_no_straggler() -> None:
    """An evaluation phase slows every host: the median moves with them."""
    hosts = job(4, range(30), lambda m, h: 20.0 if m >= 15 else 95.0)
    assert RULE.stragglers(hosts, GPUS) == ()


def test_one_minute_above_the_margin_in_the_window_is_not_an_episode_yet() -> None:
    hosts = job(4, range(30), lambda m, h: 95.0 if h != 3 or m == 22 else 45.0)
    (status,) = (s for s in RULE.statuses(hosts, GPUS) if s.host == "job/algo-3")
    assert (status.straggling, status.below_now) == (False, True)


@pytest.mark.parametrize(("missing", "straggling"), [(2, True), (3, False)])
def test_a_data_gap_is_unknown_not_low(missing: int, straggling: bool) -> None:
    """The host's compared samples must cover 80 % of the 10-minute window: 8 of 10."""
    hosts = job(4, range(30), one_slow(4, 10.0, 90.0))
    hosts["job/algo-4"] = [
        (ts, u) for ts, u in hosts["job/algo-4"] if not at(22) <= ts < at(22 + missing)
    ]
    (status,) = (s for s in RULE.statuses(hosts, GPUS) if s.host == "job/algo-4")
    assert status.straggling is straggling
    assert status.samples == 10 - missing


def test_one_alert_per_episode() -> None:
    """algo-2 slows at minute 20 and recovers at minute 50; one tick a minute reads the last
    10 minutes. One episode opens (once), stays silent while it lasts, survives a tick without
    the host's data, and closes once."""

    def per_gpu(m: int, h: int) -> float:
        return 30.0 if h == 2 and 20 <= m < 50 else 92.0

    open_hosts: set[str] = set()
    opened: list[tuple[int, StragglerStatus]] = []
    closed: list[tuple[int, str]] = []
    for tick in range(10, 80):
        hosts = job(4, range(tick - 9, tick + 1), per_gpu)
        if tick == 35:
            hosts["job/algo-2"] = []  # its samples did not arrive this tick
        changes = straggler_episodes(open_hosts, RULE.statuses(hosts, GPUS))
        opened += [(tick, s) for s in changes.opened]
        closed += [(tick, h) for h in changes.closed]
        open_hosts = (open_hosts | {s.host for s in changes.opened}) - set(changes.closed)
    assert [(t, s.host) for t, s in opened] == [(29, "job/algo-2")]
    assert closed == [(50, "job/algo-2")]
    assert open_hosts == set()


def test_a_host_without_a_status_keeps_its_episode() -> None:
    changes = straggler_episodes({"job/algo-2"}, [])
    assert (changes.opened, changes.closed) == ((), ())
