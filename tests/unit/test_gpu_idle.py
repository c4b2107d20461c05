"""GPU idle rule: per-host judgement normalized per GPU, warm-up, window coverage, the alert's
numbers, and the enforce-mode idle stop."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from trainguard.core.gpu_idle import GpuIdleRule

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


def test_multi_node_job_with_exactly_one_idle_host_names_it_with_its_numbers() -> None:
    hosts = {f"job/algo-{n}": flat(range(0, 40), 600.0) for n in (1, 2, 3, 4)}
    hosts["job/algo-3"] = flat(range(0, 40), 8.0)  # 1 % per GPU on 8 GPUs: the input pipeline
    statuses = {h: RULE.host_status(h, samples, gpus=8) for h, samples in hosts.items()}
    assert [h for h, s in statuses.items() if s.idle] == ["job/algo-3"]
    decision = RULE.alert(
        "job", "job/algo-3", statuses["job/algo-3"], hosts_total=4, elapsed_minutes=39.0
    )
    assert decision.alert is True and decision.stop is False and decision.rule == "gpu_idle"
    assert decision.value == pytest.approx(1.0) and decision.threshold == 10.0
    assert decision.reason == (
        "job/algo-3 idle: 1% per GPU (8 GPU(s)) for 30 min, below 10%; 1 of 4 hosts"
    )


def test_alert_without_readable_samples_falls_back_to_the_alarm_s_datapoints() -> None:
    decision = RULE.alert(
        "job", "job/algo-1", None, hosts_total=1, elapsed_minutes=20.0, alarm_per_gpu=3.5
    )
    assert decision.value == 3.5
    assert decision.reason == "job/algo-1 idle: 3.5% per GPU for 15 min, below 10%"
    # an episode is at least a window long: the alarm fired after a whole window below
    assert RULE.episode_minutes(None) == 15.0


@pytest.mark.parametrize(
    ("opened_minutes_ago", "stops"),
    [(0.0, False), (14.9, False), (15.0, True), (60.0, True)],
)
def test_idle_stop_after_the_limit_counts_the_alarm_window(
    opened_minutes_ago: float, stops: bool
) -> None:
    rule = GpuIdleRule(threshold_pct=10.0, window_minutes=15.0, stop_after_minutes=30.0)
    now = 10_000.0
    decision = rule.stop_decision(
        "job",
        {"job/algo-2": now - opened_minutes_ago * 60.0, "job/algo-1": now},
        now=now,
        elapsed_minutes=90.0,
    )
    assert (decision is not None) == stops
    if decision is not None:
        assert decision.stop and decision.threshold == 30.0
        assert decision.value == pytest.approx(opened_minutes_ago + 15.0)
        assert decision.reason.startswith("stop: job/algo-2 idle for")


def test_no_idle_stop_without_a_limit_or_without_open_episodes() -> None:
    assert RULE.stop_decision("job", {"job/algo-1": 0.0}, now=1e6, elapsed_minutes=1.0) is None
    limited = GpuIdleRule(stop_after_minutes=1.0)
    assert limited.stop_decision("job", {}, now=1e6, elapsed_minutes=1.0) is None
