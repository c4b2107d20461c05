"""State: the one DynamoDB table (schema in docs/runtime-design.md)."""

from __future__ import annotations

from aws_cdk import CfnOutput, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from trainguard import constants as c


class StateTable(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        string = dynamodb.AttributeType.STRING
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name="pk", type=string),
            sort_key=dynamodb.Attribute(name="sk", type=string),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            time_to_live_attribute=c.TTL_ATTR,
            # The audit log outlives the stack: `cdk destroy` leaves the table behind.
            removal_policy=RemovalPolicy.RETAIN,
        )
        # Sparse: only jobs that are InProgress carry the attribute, so a tick reads just those.
        self.table.add_global_secondary_index(
            index_name=c.RUNNING_INDEX,
            partition_key=dynamodb.Attribute(name=c.RUNNING_ATTR, type=string),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        # Sparse: only the audit records (DECISION# items) carry the day, so `trainguard report`
        # and the weekly digest read one partition per day instead of scanning the table.
        self.table.add_global_secondary_index(
            index_name=c.AUDIT_INDEX,
            partition_key=dynamodb.Attribute(name=c.AUDIT_DAY_ATTR, type=string),
            sort_key=dynamodb.Attribute(name=c.AUDIT_AT_ATTR, type=string),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        # Operator tools find the table by this output (`trainguard calibrate --apply` reads
        # the stack's outputs for the key that contains "TableName").
        CfnOutput(self, "TableName", value=self.table.table_name)
