"""Notifications: the SNS topic (KMS-encrypted, TLS only) and the optional email subscription."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct


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
        # SNS topic encrypted with a customer managed key" for alarm notifications).
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy, "*" means this key
            )
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name="trainguard alerts",
            master_key=self.key,
            enforce_ssl=True,
        )
        if alert_email:
            # The recipient gets a confirmation email; nothing is delivered until they confirm.
            self.topic.add_subscription(subscriptions.EmailSubscription(alert_email))
        CfnOutput(self, "TopicArn", value=self.topic.topic_arn)
