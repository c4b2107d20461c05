"""Notifications: the SNS topic (KMS-encrypted, TLS only) and the optional email subscription."""

from __future__ import annotations

from aws_cdk import ArnFormat, Aws, CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from trainguard import constants as c


class Notifications(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, alert_email: str) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "TopicKey",
            description="trainguard: encrypts the alert topic",
            enable_key_rotation=True,
            pending_window=Duration.days(7),
            removal_policy=RemovalPolicy.DESTROY,
        )
        # CloudWatch alarm actions publish to the topic: they need the key (AWS docs, "Amazon
        # SNS topic encrypted with a customer managed key" for alarm notifications), for this
        # account's alarms only.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy, "*" means this key
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name="trainguard alerts",
            master_key=self.key,
            enforce_ssl=True,
        )
        # enforce_ssl gives the topic a policy of its own (one Deny: no TLS, no publish), which
        # replaces SNS's default policy; nothing then lets CloudWatch publish, and the health
        # alarms' emails would silently never leave. Allow it, for this account's trainguard
        # alarms only.
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {
                        "aws:SourceArn": Stack.of(self).format_arn(
                            service="cloudwatch",
                            resource="alarm",
                            resource_name=f"{c.ALARM_PREFIX}*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    },
                },
            )
        )
        if alert_email:
            # The recipient gets a confirmation email; nothing is delivered until they confirm.
            self.topic.add_subscription(subscriptions.EmailSubscription(alert_email))
        CfnOutput(self, "TopicArn", value=self.topic.topic_arn)
