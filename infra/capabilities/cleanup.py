"""Cleanup: alarms the functions create at run time are not CloudFormation's, so a custom
resource deletes them when the stack is deleted (`cdk destroy`)."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CustomResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.capabilities.functions import L1_REASON, keep_health_alarms
from infra.nag import acknowledge
from trainguard import constants as c

HANDLER_SOURCE = Path(__file__).with_name("alarm_cleanup_handler.py")
CLEANUP_FUNCTION_NAME = "trainguard-alarm-cleanup"


class AlarmCleanup(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        runtime: lambda_.Runtime,
        trainguard_alarms_arn: str,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/lambda/{CLEANUP_FUNCTION_NAME}",
            retention=log_retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        log_group.grant_write(role)
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:DescribeAlarms"],
                resources=["*"],  # DescribeAlarms has no resource-level permissions
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:DeleteAlarms"], resources=[trainguard_alarms_arn]
            )
        )
        # the stack's health alarms are CloudFormation's (the handler skips them; so does IAM)
        role.add_to_policy(keep_health_alarms(Stack.of(self)))
        # Inline (ZipFile) code: a standalone file, no dependency on the runtime package.
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=CLEANUP_FUNCTION_NAME,
            description="trainguard: delete run-time trainguard-* alarms on stack delete",
            runtime=runtime,
            handler="index.handler",
            code=lambda_.Code.from_inline(HANDLER_SOURCE.read_text()),
            timeout=Duration.minutes(5),
            memory_size=128,
            role=role,
            log_group=log_group,
            environment={"ALARM_PREFIX": c.ALARM_PREFIX, "KEEP_PREFIX": c.HEALTH_ALARM_PREFIX},
        )
        # No resource_type: the default AWS::CloudFormation::CustomResource (moto skips it, so the
        # emulator deploy does not wait for an invocation it cannot run).
        self.resource = CustomResource(self, "Resource", service_token=self.function.function_arn)
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "cloudwatch:DescribeAlarms has no resource-level permissions.",
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudwatch:<AWS::Region>:"
            f"<AWS::AccountId>:alarm:{c.ALARM_PREFIX}*]",
            "Deletes only the run-time alarms, all named trainguard-*; their names are not "
            "known at deploy time.",
        )
        acknowledge(self.function, "AwsSolutions-L1", L1_REASON)
