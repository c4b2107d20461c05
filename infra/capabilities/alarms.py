"""Alarms on the control plane itself (names start with HEALTH_ALARM_PREFIX), each notifying the
topic; and the alert function's permission to be an alarm action for trainguard-* alarms."""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from trainguard import constants as c

ALARMS_PRINCIPAL = "lambda.alarms.cloudwatch.amazonaws.com"


class HealthAlarms(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        tick_minutes: int,
        functions: dict[str, lambda_.Function],
        evaluator: lambda_.Function,
        alert: lambda_.Function,
        dead_letter_queues: dict[str, sqs.Queue],
        topic: sns.ITopic,
        trainguard_alarms_arn: str,
    ) -> None:
        super().__init__(scope, construct_id)
        notify = actions.SnsAction(topic)
        self.alarms: list[cloudwatch.Alarm] = []

        def add(alarm: cloudwatch.Alarm) -> None:
            alarm.add_alarm_action(notify)
            alarm.add_ok_action(notify)
            self.alarms.append(alarm)

        five_minutes = Duration.minutes(5)

        def any_in_five_minutes(
            construct_id: str, name: str, description: str, metric: cloudwatch.IMetric
        ) -> None:
            """ALARM as soon as ``metric`` is >= 1 in a 5-minute period (errors, throttles,
            dead letters): each one is a failure someone should look at."""
            add(
                cloudwatch.Alarm(
                    self,
                    construct_id,
                    alarm_name=f"{c.HEALTH_ALARM_PREFIX}{name}",
                    alarm_description=description,
                    metric=metric,
                    threshold=1,
                    evaluation_periods=1,
                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                )
            )

        for label, fn in functions.items():
            any_in_five_minutes(
                f"{label}Errors",
                f"{label.lower()}-errors",
                f"trainguard {label.lower()} function raised errors",
                fn.metric_errors(period=five_minutes, statistic="Sum"),
            )
        any_in_five_minutes(
            "EvaluatorThrottles",
            "evaluator-throttles",
            "trainguard evaluator throttled: ticks overlap (a tick runs longer than the tick "
            "period) or the account is out of concurrency",
            evaluator.metric_throttles(period=five_minutes, statistic="Sum"),
        )
        for label, queue in dead_letter_queues.items():
            any_in_five_minutes(
                f"{label}DeadLettersNotEmpty",
                f"{label.lower()}-dead-letters",
                f"trainguard {label.lower()}: events in the dead-letter queue (delivery or "
                "processing failed after retries)",
                queue.metric_approximate_number_of_messages_visible(
                    period=five_minutes, statistic="Maximum"
                ),
            )
        # The evaluator's own reports: a job it could not evaluate or stop (an error, a stop
        # SageMaker refused), an email given up after every retry, an unusable runtime
        # setting (stops are then disabled until it is fixed).
        for name, alarm_name, metric_name, description in (
            (
                "JobErrors",
                "job-errors",
                c.METRIC_JOB_ERRORS,
                "a job could not be evaluated, "
                "stopped or emailed (see the evaluator's logs for the job)",
            ),
            (
                "EmailDeadLetters",
                "email-dead-letters",
                c.METRIC_EMAIL_DEAD_LETTERS,
                "an email "
                "could not be sent after every retry (kept in the table's OUTBOX#DEAD partition)",
            ),
            (
                "ConfigErrors",
                "config-errors",
                c.METRIC_CONFIG_ERRORS,
                "a runtime setting is "
                "unusable: every stop is disabled until it is fixed (see the functions' logs)",
            ),
        ):
            any_in_five_minutes(
                name,
                alarm_name,
                f"trainguard: {description}",
                cloudwatch.Metric(
                    namespace=c.METRICS_NAMESPACE,
                    metric_name=metric_name,
                    dimensions_map={"service": c.SERVICE_NAME},
                    period=five_minutes,
                    statistic="Sum",
                ),
            )
        # No invocation for 3 tick periods: the schedule, the rule or the function is broken.
        # Missing data is exactly the failure, so it counts as breaching.
        add(
            cloudwatch.Alarm(
                self,
                "EvaluatorHeartbeat",
                alarm_name=f"{c.HEALTH_ALARM_PREFIX}evaluator-heartbeat",
                alarm_description="trainguard evaluator ran no tick for 3 tick periods",
                metric=evaluator.metric_invocations(
                    period=Duration.minutes(tick_minutes), statistic="Sum"
                ),
                threshold=1,
                evaluation_periods=3,
                datapoints_to_alarm=3,
                comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
            )
        )

        # Per-job alarms created at run time invoke the alert function directly (Lambda alarm
        # action): allow CloudWatch alarms of this account and region named trainguard-* only.
        alert.add_permission(
            "InvokeFromTrainguardAlarms",
            principal=iam.ServicePrincipal(ALARMS_PRINCIPAL),
            action="lambda:InvokeFunction",
            source_account=Aws.ACCOUNT_ID,
            source_arn=trainguard_alarms_arn,
        )
