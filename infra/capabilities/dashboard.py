"""Dashboard: stops and would-be stops, alerts, dollars saved, tick and shard durations, errors
(the shards' errors and dead letters too), the opted-in jobs not fully watched."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from trainguard import constants as c

DASHBOARD_NAME = "trainguard"


def trainguard_metric(
    name: str, statistic: str = "Sum", label: str | None = None
) -> cloudwatch.Metric:
    """A metric the functions emit with Powertools (namespace + its default `service` dimension)."""
    return cloudwatch.Metric(
        namespace=c.METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": c.SERVICE_NAME},
        statistic=statistic,
        period=Duration.minutes(5),
        label=label or name,
    )


class Dashboard(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: dict[str, lambda_.Function],
        shard_dead_letters: sqs.IQueue | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        evaluator = functions["Evaluator"]
        shard = functions.get("Shard")
        self.dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=DASHBOARD_NAME, default_interval=Duration.hours(24)
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Stops and would-be stops",
                left=[
                    trainguard_metric(c.METRIC_STOPS, label="stopped (enforce)"),
                    trainguard_metric(c.METRIC_WOULD_STOPS, label="would stop (observe)"),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Alerts", left=[trainguard_metric(c.METRIC_ALERTS)], width=8
            ),
            cloudwatch.SingleValueWidget(
                title="Dollars saved (estimated)",
                metrics=[trainguard_metric(c.METRIC_DOLLARS_SAVED, label="USD")],
                set_period_to_time_range=True,
                width=8,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Tick duration",
                left=[
                    trainguard_metric(c.METRIC_TICK_DURATION, "Average", "tick ms (avg)"),
                    trainguard_metric(c.METRIC_TICK_DURATION, "p99", "tick ms (p99)"),
                    evaluator.metric_duration(statistic="Maximum", label="evaluator ms (max)"),
                ],
                right=[trainguard_metric(c.METRIC_TICKS, label="ticks")],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Errors and throttles",
                left=[
                    fn.metric_errors(statistic="Sum", label=f"{label.lower()} errors")
                    for label, fn in functions.items()
                ]
                + [evaluator.metric_throttles(statistic="Sum", label="evaluator throttles")],
                width=12,
            ),
        )
        # issue 20: opted-in jobs a rule on does not watch, per tick (the planner's and the
        # shards' counts summed, over the ticks of the period: right at any tick rate)
        unwatched = cloudwatch.MathExpression(
            expression="unwatched / ticks",
            using_metrics={
                "unwatched": trainguard_metric(c.METRIC_UNWATCHED),
                "ticks": trainguard_metric(c.METRIC_TICKS),
            },
            label="unwatched jobs (a tick's average)",
            period=Duration.minutes(5),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="UnwatchedJobs: opted-in jobs not fully watched (trainguard status: why)",
                left=[unwatched],
                width=24,
            )
        )
        if shard is None:
            return
        dead = (
            [
                shard_dead_letters.metric_approximate_number_of_messages_visible(
                    statistic="Maximum", label="shards dead-lettered"
                )
            ]
            if shard_dead_letters is not None
            else []
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Shard durations (one invocation a shard)",
                left=[
                    trainguard_metric(c.METRIC_SHARD_DURATION, "Average", "shard ms (avg)"),
                    trainguard_metric(c.METRIC_SHARD_DURATION, "Maximum", "slowest shard ms"),
                    shard.metric_duration(statistic="p99", label="shard function ms (p99)"),
                ],
                right=[trainguard_metric(c.METRIC_SHARDS, label="shards sent")],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Shard errors",
                left=[
                    shard.metric_errors(statistic="Sum", label="shard function errors"),
                    shard.metric_throttles(statistic="Sum", label="shard throttles"),
                    *dead,
                ],
                width=12,
            ),
        )
