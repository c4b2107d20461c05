"""Hang rule: a silence longer than the job's own rhythm allows, while every host's GPUs are
flat, idle or pinned; its boundaries, its numbers, and the 10-minute detection requirement."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainguard.core.cadence import ReportCadence
from trainguard.core.hang import Hang, HangRule

pytestmark = pytest.mark.unit

BASE = 1_700_000_040.0  # training start, a whole minute (epoch s)
GPUS = 8
RULE = HangRule()


def at(minute: float) -> float:
    return BASE + 60.0 * minute


def reports(minutes: Iterable[float]) -> ReportCadence:
    return ReportCadence.of(at(m) for m in minutes)


def samples(minutes: Iterable[int], per_gpu: Callable[[int], float]) -> list[tuple[float, float]]:
    """One summed ``GPUUtilization`` sample a minute (per GPU x 8 GPUs)."""
    return [(at(m), per_gpu(m) * GPUS) for m in minutes]


def job(
    n: int, minutes: Iterable[int], per_gpu: Callable[[int, int], float]
) -> dict[str, list[tuple[float, float]]]:
    """``n`` hosts ``job/algo-<h>``, each with ``per_gpu(minute, h)`` at every minute."""
    ms = list(minutes)
    return {f"job/algo-{h}": [(at(m), per_gpu(m, h) * GPUS) for m in ms] for h in range(1, n + 1)}


def training(m: int, h: int) -> float:
    return 70.0 + (m * 7 + h * 13) % 25  # busy and varying: 70-94 % per GPU


def pinned(m: int, h: int) -> float:
    return 99.0 + 0.8 * ((m + h) % 2)  # a collective spinning: 99-99.8 %


@pytest.mark.parametrize(("lag", "first_alert"), [(0, 36), (1, 36), (2, 36), (3, 37), (4, 38)])
def test_a_4_node_hang_pinned_near_100_is_alerted_within_10_minutes(
    lag: int, first_alert: int
) -> None:
    """Reports every minute until minute 30, then the job hangs with its GPUs pinned. Each
    one-minute tick reads the last 10 minutes of GPU samples, which arrive ``lag`` minutes
    late: the alert comes at most 10 minutes after the last report."""
    cadence = reports(range(31))

    def per_gpu(m: int, h: int) -> float:
        return pinned(m, h) if m >= 30 else training(m, h)

    alerts = []
    for tick in range(31, 45):
        visible = range(tick - 9, tick - lag + 1)
        decision = RULE.check(
            "job", cadence, job(4, visible, per_gpu), GPUS, now=at(tick), elapsed_minutes=tick
        )
        if decision is not None:
            alerts.append((tick, decision))
    assert alerts, "the hang was never alerted"
    tick, decision = alerts[0]
    assert tick == first_alert <= 30 + 10
    assert (decision.rule, decision.alert, decision.stop) == ("hung", True, False)
    assert decision.reason.startswith("hung (pinned): objective silent for ")
    assert (decision.value, decision.threshold) == (tick - 30, 5.0)


def test_the_reason_names_the_pattern_each_host_and_the_limit() -> None:
    hosts = {
        "job/algo-1": samples(range(32, 37), lambda m: [0.0, 1.0][m % 2]),
        "job/algo-2": samples(range(32, 37), lambda m: 100.0),
    }
    decision = RULE.check("job", reports(range(31)), hosts, GPUS, now=at(37), elapsed_minutes=37)
    assert decision is not None
    assert decision.reason == (
        "hung (mixed: 1 pinned, 1 idle): objective silent for 7 min, over 5 min (the largest of "
        "5 min, 3 x its typical gap 1 min and its longest gap 1 min) while its instances still "
        "report; GPUs flat over the last 5 min on 2 hosts: job/algo-1 0.4% per GPU (range 1), "
        "job/algo-2 100% per GPU (range 0)"
    )


def test_a_job_idle_since_its_last_report_is_hung_idle() -> None:
    hang = RULE.judge(
        reports(range(0, 31, 2)), job(2, range(30, 50), lambda m, h: 0.0), GPUS, now=at(50)
    )
    assert hang is not None
    assert (hang.pattern, hang.limit_minutes, hang.typical_gap_minutes) == ("idle", 6.0, 2.0)


def test_a_checkpoint_pause_within_the_jobs_past_gaps_is_not_a_hang() -> None:
    """It paused 12 minutes (GPUs idle) at minute 20 before; a second 12-minute pause is its
    rhythm, a 13th minute is not."""
    cadence = reports([*range(21), *range(32, 61)])
    assert (cadence.longest, cadence.typical_gap) == (720.0, 60.0)
    idle = job(4, range(50, 80), lambda m, h: 1.0 if m > 60 else training(m, h))
    assert RULE.judge(cadence, idle, GPUS, now=at(72)) is None
    hang = RULE.judge(cadence, idle, GPUS, now=at(73))
    assert hang is not None
    assert (hang.pattern, hang.silent_minutes, hang.limit_minutes) == ("idle", 13.0, 12.0)


def test_the_silence_must_exceed_three_typical_gaps() -> None:
    every_ten = reports(range(0, 101, 10))  # an epoch every 10 minutes
    flat = job(2, range(100, 140), pinned)
    assert RULE.silence_limit(every_ten) == 30.0
    assert RULE.judge(every_ten, flat, GPUS, now=at(130)) is None  # exactly at the limit
    assert RULE.judge(every_ten, flat, GPUS, now=at(131)) is not None


def test_an_evaluation_phase_busy_and_varying_is_not_a_hang() -> None:
    cadence = reports(range(31))
    assert RULE.judge(cadence, job(4, range(40, 51), training), GPUS, now=at(51)) is None
    # the same silence with flat, pinned GPUs is one
    assert RULE.judge(cadence, job(4, range(40, 51), pinned), GPUS, now=at(51)) is not None


@pytest.mark.parametrize(
    ("level", "hung"),
    [(0.0, True), (5.0, True), (5.1, False), (50.0, False), (89.9, False), (90.0, True)],
)
def test_flat_counts_only_near_zero_or_pinned(level: float, hung: bool) -> None:
    hosts = job(2, range(40, 51), lambda m, h: level)
    assert (RULE.judge(reports(range(31)), hosts, GPUS, now=at(51)) is not None) is hung


@pytest.mark.parametrize(("spread", "hung"), [(5.0, True), (5.5, False), (20.0, False)])
def test_real_variance_on_one_host_is_not_flat(spread: float, hung: bool) -> None:
    hosts = job(3, range(40, 51), lambda m, h: 100.0 - (spread if h == 2 and m % 3 else 0.0))
    assert (RULE.judge(reports(range(31)), hosts, GPUS, now=at(51)) is not None) is hung


def test_without_instance_samples_there_is_no_verdict() -> None:
    """Everything silent: the runtime guard's 30-minute "stalled" alert is the fallback."""
    cadence = reports(range(31))
    assert RULE.judge(cadence, {}, GPUS, now=at(60)) is None
    assert RULE.judge(cadence, {"job/algo-1": []}, GPUS, now=at(60)) is None
    # samples that stopped with the objective, or long ago, say nothing of the instances now
    assert RULE.judge(cadence, job(2, range(20, 31), pinned), GPUS, now=at(60)) is None
    assert RULE.judge(cadence, job(2, range(31, 45), pinned), GPUS, now=at(60)) is None


@pytest.mark.parametrize(("missing", "hung"), [(1, True), (2, False)])
def test_a_data_gap_is_unknown_not_flat(missing: int, hung: bool) -> None:
    """Each host needs 80 % of the window's one-minute samples: 4 of 5."""
    hosts = job(4, range(40, 51), pinned)
    hosts["job/algo-3"] = [(ts, u) for ts, u in hosts["job/algo-3"] if ts <= at(49 - missing)]
    hosts["job/algo-3"].append((at(50), 800.0))
    assert (RULE.judge(reports(range(31)), hosts, GPUS, now=at(51)) is not None) is hung


def test_the_cadence_must_be_known_first() -> None:
    hosts = job(2, range(40, 71), pinned)
    assert RULE.judge(reports([0, 1]), hosts, GPUS, now=at(71)) is None  # one gap
    assert RULE.judge(reports([0, 1, 2]), hosts, GPUS, now=at(71)) is not None


def test_the_enforce_stop_counts_from_the_last_report() -> None:
    rule = HangRule(stop_after_minutes=30.0)
    cadence = reports(range(31))
    hang = rule.judge(cadence, job(2, range(50, 61), pinned), GPUS, now=at(59))
    assert hang is not None
    assert rule.stop_decision("job", hang, elapsed_minutes=59) is None
    assert RULE.stop_decision("job", hang, elapsed_minutes=59) is None  # never by default
    hang = rule.judge(cadence, job(2, range(50, 61), pinned), GPUS, now=at(60))
    assert hang is not None
    stop = rule.stop_decision("job", hang, elapsed_minutes=60)
    assert stop is not None
    assert (stop.rule, stop.stop, stop.alert, stop.value, stop.threshold) == (
        "hung",
        True,
        False,
        30.0,
        30.0,
    )
    assert stop.reason == "stop: hung (pinned) for 30 min since the last report, limit 30 min"


@settings(max_examples=150, deadline=None)
@given(
    gaps=st.lists(st.integers(1, 40), min_size=2, max_size=20),
    share=st.floats(0.0, 1.0),
    level=st.sampled_from([0.0, 100.0]),
)
def test_a_silence_within_the_longest_past_gap_is_never_a_hang(
    gaps: list[int], share: float, level: float
) -> None:
    minutes = [0]
    for g in gaps:
        minutes.append(minutes[-1] + g)
    cadence = reports(minutes)
    assert cadence.longest is not None
    now = cadence.last + share * cadence.longest if cadence.last is not None else 0.0
    end = int((now - BASE) // 60)
    hosts = job(4, range(end - 9, end + 1), lambda m, h: level)
    hang: Hang | None = RULE.judge(cadence, hosts, GPUS, now=now)
    assert hang is None
