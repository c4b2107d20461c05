"""The alarm evaluator's pure parts: shapes, windows, the M-of-N state rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from trainguard_local.alarms import (
    AlarmSpec,
    UnsupportedAlarm,
    bucket,
    decide_state,
    evaluation_window,
)

pytestmark = pytest.mark.unit

LT = "LessThanThreshold"


def gpu_idle_alarm(**overrides: object) -> dict[str, object]:
    """The runtime's GPU-idle alarm as DescribeAlarms returns it (docs/runtime-design.md)."""
    alarm: dict[str, object] = {
        "AlarmName": "trainguard-gpu-idle-job-a-algo-2",
        "AlarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:trainguard-gpu-idle-job-a",
        "ComparisonOperator": LT,
        "Threshold": 10.0,
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 3,
        "TreatMissingData": "missing",
        "ActionsEnabled": True,
        "AlarmActions": ["arn:aws:lambda:us-east-1:123456789012:function:trainguard-alert"],
        "OKActions": ["arn:aws:lambda:us-east-1:123456789012:function:trainguard-alert"],
        "Metrics": [
            {
                "Id": "m1",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "/aws/sagemaker/TrainingJobs",
                        "MetricName": "GPUUtilization",
                        "Dimensions": [{"Name": "Host", "Value": "job-a/algo-2"}],
                    },
                    "Period": 60,
                    "Stat": "Average",
                },
                "ReturnData": False,
            },
            {"Id": "e1", "Expression": "m1 / 8", "ReturnData": True},
        ],
    }
    alarm.update(overrides)
    return alarm


def decide(values: list[float | None], current: str = "INSUFFICIENT_DATA", **kw: object) -> str:
    options: dict[str, object] = {
        "operator": LT,
        "threshold": 10.0,
        "datapoints_to_alarm": 3,
        "treat_missing": "missing",
        "current": current,
    }
    options.update(kw)
    return decide_state(values, **options)[0]  # type: ignore[arg-type]


def test_math_alarm_is_parsed_into_one_metric_and_a_scale() -> None:
    spec = AlarmSpec.from_api(gpu_idle_alarm())
    assert spec.query.metric_name == "GPUUtilization"
    assert spec.query.dimensions == (("Host", "job-a/algo-2"),)
    assert spec.query.apply(400.0) == pytest.approx(50.0)  # 400 summed over 8 GPUs = 50 %
    assert (spec.evaluation_periods, spec.datapoints_to_alarm) == (3, 3)
    assert spec.actions_for("ALARM") == spec.actions_for("OK")
    metrics = spec.configuration()["metrics"]
    assert metrics[0]["metricStat"]["metric"]["dimensions"] == {"Host": "job-a/algo-2"}
    assert metrics[1] == {"id": "e1", "expression": "m1 / 8", "label": "e1", "returnData": True}


def test_plain_metric_alarm_is_parsed() -> None:
    alarm = gpu_idle_alarm(
        Metrics=None,
        Namespace="trainguard",
        MetricName="Ticks",
        Dimensions=[{"Name": "service", "Value": "trainguard"}],
        Statistic="Sum",
        Period=300,
        DatapointsToAlarm=None,
    )
    spec = AlarmSpec.from_api(alarm)
    assert (spec.query.namespace, spec.query.stat, spec.query.period) == ("trainguard", "Sum", 300)
    assert spec.query.apply(3.0) == 3.0
    assert spec.datapoints_to_alarm == 3  # defaults to EvaluationPeriods


@pytest.mark.parametrize(
    "overrides",
    [
        {"Metrics": [*gpu_idle_alarm()["Metrics"][:1], {"Id": "e1", "Expression": "AVG(m1)"}]},  # type: ignore[index]
        {"Metrics": None, "MetricName": "X", "ExtendedStatistic": "p90"},
        {"ComparisonOperator": "LessThanLowerOrGreaterThanUpperThreshold"},
    ],
)
def test_unsupported_shapes_are_refused_with_a_reason(overrides: dict[str, object]) -> None:
    with pytest.raises(UnsupportedAlarm):
        AlarmSpec.from_api(gpu_idle_alarm(**overrides))


def test_window_is_the_last_complete_periods_on_the_grid() -> None:
    now = datetime(2026, 1, 1, 12, 10, 30, tzinfo=UTC)
    start, end = evaluation_window(now, 60, 3)
    assert (start, end) == (now.replace(minute=7, second=0), now.replace(minute=10, second=0))


def test_bucket_places_datapoints_in_their_period_and_leaves_gaps_missing() -> None:
    start = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    points = [(start, 1.0), (start + timedelta(minutes=2, seconds=30), 3.0)]
    assert bucket(points, start, 60, 3) == [1.0, None, 3.0]
    assert bucket([(start - timedelta(minutes=1), 9.0)], start, 60, 3) == [None, None, None]


def test_all_missing_is_insufficient_data() -> None:
    assert decide([None, None, None], current="OK") == "INSUFFICIENT_DATA"


def test_m_breaching_datapoints_alarm() -> None:
    assert decide([5.0, 2.0, 0.0]) == "ALARM"


def test_one_healthy_datapoint_makes_alarm_impossible_so_ok() -> None:
    assert decide([None, None, 50.0]) == "OK"
    assert decide([5.0, 50.0, 5.0], current="ALARM") == "OK"


def test_too_few_datapoints_to_tell_keep_the_current_state() -> None:
    assert decide([None, 5.0, 5.0]) == "INSUFFICIENT_DATA"
    assert decide([None, 5.0, 5.0], current="ALARM") == "ALARM"


def test_threshold_itself_does_not_breach_less_than() -> None:
    assert decide([10.0, 10.0, 10.0]) == "OK"


def test_missing_as_breaching_or_not_breaching() -> None:
    assert decide([None, None, 5.0], treat_missing="breaching") == "ALARM"
    assert decide([None, None, 5.0], treat_missing="notBreaching") == "OK"


def test_ignore_keeps_state_when_everything_is_missing() -> None:
    assert decide([None, None, None], current="ALARM", treat_missing="ignore") == "ALARM"


def test_m_out_of_n() -> None:
    assert decide([5.0, 50.0, 5.0, 5.0], datapoints_to_alarm=3) == "ALARM"
    assert decide([5.0, 50.0, 50.0, 5.0], datapoints_to_alarm=3) == "OK"
