"""GPU idle rule: per-host judgement normalized per GPU, warm-up, window coverage, episodes."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from trainguard.core import GpuIdleRule, HostStatus, episode_transitions
from trainguard.core.gpu_idle import EpisodeEvent, idle_decision

pytestmark = pytest.mark.unit

RULE = GpuIdleRule(threshold_pct=10.0, window_minutes=15.0, warmup_minutes=10.0)


def flat(minutes: Iterable[int], summed: float) -> list[tuple[float, float]]:
    """One sample a minute of summed ``GPUUtilization`` (0-100 x GPU count)."""
    return [(float(m), float(summed)) for m in minutes]


def test_summed_utilization_is_normalized_by_gpu_count() -> None:
    samples = flat(range(0, 31), 79.0)  # 8 GPUs summed: 9.875 % per GPU
    status = RULE.host_status("job/algo-1", samples, gpus=8)
    assert status.idle is True
    assert status.per_gpu_latest == pytest.approx(79.0 / 8)
    assert status.per_gpu_window_mean == pytest.approx(79.0 / 8)
    # the same sum on a one-GPU host is 79 %: busy
    assert RULE.host_status("job/algo-1", samples, gpus=1).idle is False
    # 400 of 800 on 8 GPUs is 50 % per GPU: busy, and "recovered"
    busy = RULE.host_status("job/algo-1", flat(range(0, 31), 400.0), gpus=8)
    assert (busy.idle, busy.recovered, busy.per_gpu_latest) == (False, True, 50.0)


def test_exactly_at_the_threshold_is_not_idle() -> None:
    status = RULE.host_status("h", flat(range(0, 31), 80.0), gpus=8)  # 10.0 % per GPU
    assert (status.idle, status.recovered, status.idle_minutes) == (False, True, 0.0)


def test_warm_up_samples_are_ignored() -> None:
    # idle from minute 0, but only minutes >= 10 count: 14 of them are not a 15-minute window
    early = RULE.host_status("h", flat(range(0, 24), 0.0), gpus=1)
    assert (early.idle, early.idle_minutes) == (False, 14.0)
    # one more minute completes the window
    full = RULE.host_status("h", flat(range(0, 25), 0.0), gpus=1)
    assert (full.idle, full.idle_minutes, full.latest_minute) == (True, 15.0, 24.0)
    # nothing after the warm-up yet: no verdict at all
    none = RULE.host_status("h", flat(range(0, 10), 0.0), gpus=1)
    assert (none.idle, none.recovered, none.per_gpu_latest, none.latest_minute) == (
        False,
        False,
        None,
        None,
    )


def test_empty_and_single_sample() -> None:
    empty = RULE.host_status("h", [], gpus=4)
    assert (empty.idle, empty.recovered, empty.idle_minutes) == (False, False, 0.0)
    one = RULE.host_status("h", [(12.0, 0.0)], gpus=4)
    assert (one.idle, one.idle_minutes, one.per_gpu_latest) == (False, 1.0, 0.0)


@pytest.mark.parametrize(("missing", "idle"), [(3, True), (4, False)])
def test_window_must_be_covered_by_samples(missing: int, idle: bool) -> None:
    """A gap in the data is 'unknown', not idle: at least 80 % of the window's minutes."""
    minutes = [m for m in range(10, 41) if not 30 <= m < 30 + missing]
    status = RULE.host_status("h", flat(minutes, 0.0), gpus=1)
    # the trailing run below the threshold is long enough either way
    assert status.idle_minutes == 31.0
    assert status.idle is idle


def test_a_recent_busy_sample_ends_the_idle_run() -> None:
    samples = [*flat(range(0, 40), 0.0), (40.0, 50.0)]
    status = RULE.host_status("h", samples, gpus=1)
    assert (status.idle, status.recovered, status.idle_minutes) == (False, True, 0.0)
    # and a short dip after it is not an episode
    samples += flat(range(41, 50), 0.0)
    status = RULE.host_status("h", samples, gpus=1)
    assert (status.idle, status.recovered, status.idle_minutes) == (False, False, 9.0)


def test_gpu_count_must_be_positive() -> None:
    with pytest.raises(ValueError, match="job/algo-1"):
        RULE.host_status("job/algo-1", flat(range(0, 30), 0.0), gpus=0)


def test_multi_node_job_with_exactly_one_idle_host() -> None:
    hosts = {f"job/algo-{n}": flat(range(0, 40), 600.0) for n in (1, 2, 4, 3)}
    hosts["job/algo-3"] = flat(range(0, 40), 8.0)  # 1 % per GPU on 8 GPUs: the input pipeline
    statuses = RULE.evaluate("job", hosts, gpus=8)
    assert [s.host for s in statuses] == [f"job/algo-{n}" for n in (1, 2, 3, 4)]
    assert [s.host for s in statuses if s.idle] == ["job/algo-3"]
    (event,) = episode_transitions([], statuses)
    assert (event.host, event.transition) == ("job/algo-3", "open")
    decision = idle_decision("job", event, RULE, hosts_total=len(hosts))
    assert decision.alert is True and decision.stop is False
    assert decision.rule == "gpu_idle"
    assert "job/algo-3" in decision.reason and "1 of 4 hosts" in decision.reason
    assert decision.value == pytest.approx(1.0) and decision.threshold == 10.0


def run_ticks(samples: list[tuple[float, float]], until: int) -> list[tuple[int, str]]:
    """Replay the evaluator: every minute, judge the samples seen so far, apply transitions."""
    open_hosts: set[str] = set()
    seen: list[tuple[int, str]] = []
    for now in range(until + 1):
        status = RULE.host_status("h", [p for p in samples if p[0] <= now], gpus=1)
        for event in episode_transitions(open_hosts, [status]):
            seen.append((now, event.transition))
            if event.transition == "open":
                open_hosts.add(event.host)
            else:
                open_hosts.discard(event.host)
    return seen


def test_one_open_per_episode_and_one_close_on_recovery() -> None:
    # busy until 20, idle 20..44, busy from 45, idle again 60..79
    samples = [
        *flat(range(0, 20), 90.0),
        *flat(range(20, 45), 2.0),
        *flat(range(45, 60), 90.0),
        *flat(range(60, 80), 2.0),
    ]
    events = run_ticks(samples, until=79)
    # open once the run covers 15 minutes (20..34), silence while idle, close at the first
    # busy sample, then the second episode
    assert events == [(34, "open"), (45, "close"), (74, "open")]


def test_episode_transitions_are_silent_while_nothing_changes() -> None:
    idle = RULE.host_status("h", flat(range(0, 40), 0.0), gpus=1)
    busy = RULE.host_status("h", flat(range(0, 40), 90.0), gpus=1)
    assert idle.idle and busy.recovered
    assert episode_transitions(["h"], [idle]) == []  # still idle: already alerted
    assert episode_transitions([], [busy]) == []  # busy and never idle: nothing to close
    (close,) = episode_transitions(["h"], [busy])
    assert close == EpisodeEvent("h", "close", busy)
    note = idle_decision("job", close, RULE, hosts_total=1)
    assert "recovered" in note.reason and note.value == 90.0


def test_open_host_in_a_data_gap_neither_closes_nor_reopens() -> None:
    gap = HostStatus("h", 1, False, False, 0.0, 0.0, 20.0, 40.0)  # low but window not covered
    assert episode_transitions(["h"], [gap]) == []
