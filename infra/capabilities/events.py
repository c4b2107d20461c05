"""Events: SageMaker state changes -> lifecycle, the tick schedule -> evaluator, the stack's
health alarms -> alert. Every target has a retry policy and a dead-letter queue."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from trainguard import constants as c

TRAINING_STATE_PATTERN = events.EventPattern(
    source=["aws.sagemaker"], detail_type=[c.TRAINING_STATE_CHANGE]
)
HEALTH_ALARM_PATTERN = events.EventPattern(
    source=["aws.cloudwatch"],
    detail_type=[c.ALARM_STATE_CHANGE],
    detail={"alarmName": [{"prefix": c.HEALTH_ALARM_PREFIX}]},
)


class EventWiring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        tick_minutes: int,
        lifecycle: lambda_.IFunction,
        evaluator: lambda_.IFunction,
        alert: lambda_.IFunction,
        dead_letter_queues: dict[str, sqs.IQueue],
    ) -> None:
        super().__init__(scope, construct_id)
        self.training_state_rule = events.Rule(
            self,
            "TrainingStateRule",
            rule_name=c.TRAINING_STATE_RULE_NAME,
            description="trainguard: SageMaker Training Job State Change -> lifecycle",
            event_pattern=TRAINING_STATE_PATTERN,
            targets=[
                targets.LambdaFunction(
                    lifecycle,
                    dead_letter_queue=dead_letter_queues["Lifecycle"],
                    retry_attempts=20,
                    max_event_age=Duration.hours(2),
                )
            ],
        )
        self.tick_rule = events.Rule(
            self,
            "TickRule",
            rule_name=c.TICK_RULE_NAME,
            description=f"trainguard: evaluator tick every {tick_minutes} minute(s)",
            schedule=events.Schedule.rate(Duration.minutes(tick_minutes)),
            targets=[
                targets.LambdaFunction(
                    evaluator,
                    dead_letter_queue=dead_letter_queues["Evaluator"],
                    # A tick older than one period is superseded by the next one.
                    retry_attempts=2,
                    max_event_age=Duration.seconds(max(60, tick_minutes * 60)),
                )
            ],
        )
        self.health_alarm_rule = events.Rule(
            self,
            "HealthAlarmRule",
            rule_name=c.HEALTH_ALARM_RULE_NAME,
            description="trainguard: state changes of the stack's own health alarms -> alert",
            event_pattern=HEALTH_ALARM_PATTERN,
            targets=[
                targets.LambdaFunction(
                    alert,
                    dead_letter_queue=dead_letter_queues["Alert"],
                    retry_attempts=20,
                    max_event_age=Duration.hours(2),
                )
            ],
        )
        self.rules = (self.training_state_rule, self.tick_rule, self.health_alarm_rule)
