"""The weekly digest: one function on an EventBridge schedule (``digestSchedule``, default
Mondays 08:00 UTC; ``off``: neither exists) that reads the week's audit and publishes one
message on the alert topic.

Least privilege: it only reads the table (Query of the table and its indexes, the ``audit``
index for the week and ``running`` for the longest-running jobs; BatchGetItem of the runs'
items, the groups' statistics and curves) and publishes to the topic. It writes nothing.
The function is built by :class:`~infra.capabilities.functions.Functions` (the stack's one
asset and layer, the same logging, tracing and dead-letter queue as the others); its role
gets only the grants below, not the others' read-write access.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.capabilities.functions import (
    PUBLISH_FINDING,
    Functions,
    FunctionSpec,
    acknowledge_function,
    index_finding,
)
from trainguard import constants as c

TABLE_READS = ("dynamodb:Query", "dynamodb:BatchGetItem")


class Digest(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        schedule: str,
        functions: Functions,
        table: dynamodb.ITable,
        topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        # built by Functions so that it shares the stack's asset, layer and function settings
        # (its DLQ joins theirs, and so its dead-letter alarm)
        self.function = functions._function(
            FunctionSpec(
                "Digest",
                c.DIGEST_FUNCTION_NAME,
                c.DIGEST_HANDLER,
                256,
                120,  # 7 Queries, a few BatchGetItems, a Query per idle job, one Publish
                "trainguard: the weekly digest (stops, would-be stops, alerts, savings)",
            ),
            extra_env={},
            retry_attempts=2,
            max_event_age=Duration.hours(6),
        )
        fn = self.function
        table.grant(fn, *TABLE_READS)  # the table and its indexes (audit, running)
        topic.grant_publish(fn)
        self.rule = events.Rule(
            self,
            "Schedule",
            rule_name=c.DIGEST_RULE_NAME,
            description=f"trainguard: the weekly digest, {schedule} (UTC)",
            schedule=events.Schedule.expression(schedule),
            targets=[
                targets.LambdaFunction(
                    fn,
                    dead_letter_queue=functions.dead_letter_queues["Digest"],
                    retry_attempts=2,
                    max_event_age=Duration.hours(6),
                )
            ],
        )
        self._acknowledge(fn, table)
        CfnOutput(self, "DigestFunctionName", value=fn.function_name)

    def _acknowledge(self, fn: lambda_.Function, table: dynamodb.ITable) -> None:
        acknowledge_function(
            fn,
            {
                "Resource::*": "Only xray:PutTraceSegments/PutTelemetryRecords (active tracing), "
                "which have no resource-level permissions.",
                index_finding(table): "Query of the table's own indexes: the sparse audit GSI (the "
                "week, one partition a day) and the running GSI.",
                **PUBLISH_FINDING,
            },
        )
