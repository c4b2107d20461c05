"""Chat: the alert topic in Slack and/or Microsoft Teams through Amazon Q Developer in chat
applications (formerly AWS Chatbot). Opt-in: the stack has this construct only when the
context names a channel (``slackWorkspaceId`` + ``slackChannelId``, or the three ``teams*``
keys; see ``infra/config.py``).

A channel configuration lists the topic (``SnsTopicArns``) and Chatbot itself subscribes to it:
an HTTPS subscription to ``https://global.sns-api.chatbot.amazonaws.com``, which is why the
functions publish the chat form of each message under the ``https`` key (adapters/notifier.py).
Nothing here needs the topic's KMS key: SNS decrypts before it delivers to HTTPS endpoints.

Permissions. A channel has two caps: its *channel role* (what Chatbot may do for the channel)
and its *guardrail policies* (the most any role used in the channel may do, the channel role
and any user role alike; without guardrails CloudFormation applies AWS's AdministratorAccess).
trainguard's channel only shows notifications, never runs commands, so both are the same small
policy: the read-only CloudWatch calls behind the "Notification permissions" policy template of
the Chatbot console (which grants cloudwatch:Describe*/Get*/List*), narrowed to the alarm and
metric reads that rendering an alarm notification with its graph uses. Our own messages (custom
notifications) need no permission at all; the health alarms' notifications use these. No
ReadOnlyAccess (it reads every service's data), no write, no IAM; user roles are not required,
so a channel member can never bring more rights than the guardrail.
"""

from __future__ import annotations

from aws_cdk import aws_chatbot as chatbot
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.config import ChatConfig
from infra.nag import acknowledge

SLACK_CONFIGURATION_NAME = "trainguard-slack"
TEAMS_CONFIGURATION_NAME = "trainguard-teams"

# read-only, and each of them has no resource-level permissions or needs "*" to find an alarm's
# metrics (GetMetricData, GetMetricStatistics, GetMetricWidgetImage, ListMetrics)
NOTIFICATION_ACTIONS = (
    "cloudwatch:DescribeAlarms",
    "cloudwatch:DescribeAlarmHistory",
    "cloudwatch:GetMetricData",
    "cloudwatch:GetMetricStatistics",
    "cloudwatch:GetMetricWidgetImage",
    "cloudwatch:ListMetrics",
)
_STAR_REASON = (
    "Chatbot renders CloudWatch alarm notifications (the health alarms publish to this topic) "
    "with their metric graph: read-only CloudWatch calls that have no resource-level "
    "permissions (GetMetricData, GetMetricStatistics, GetMetricWidgetImage, ListMetrics) or "
    "must find any alarm the topic carries. No write, no other service."
)


class ChatChannels(Construct):
    """The Slack and/or Teams channel configuration(s), one role and one guardrail."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: ChatConfig, topic: sns.ITopic
    ) -> None:
        super().__init__(scope, construct_id)
        statement = iam.PolicyStatement(
            sid="NotificationReads",
            actions=list(NOTIFICATION_ACTIONS),
            resources=["*"],
        )
        self.guardrail = iam.ManagedPolicy(
            self,
            "Guardrail",
            description="trainguard chat channels: the most any role in them may do "
            "(read-only CloudWatch for alarm notifications)",
            statements=[statement],
        )
        self.role = iam.Role(
            self,
            "ChannelRole",
            assumed_by=iam.ServicePrincipal("chatbot.amazonaws.com"),
            description="trainguard chat channels: show notifications (read-only CloudWatch)",
            inline_policies={"Notifications": iam.PolicyDocument(statements=[statement])},
        )
        acknowledge(self.guardrail, "AwsSolutions-IAM5[Resource::*]", _STAR_REASON)
        acknowledge(self.role, "AwsSolutions-IAM5[Resource::*]", _STAR_REASON)

        self.slack: chatbot.SlackChannelConfiguration | None = None
        self.teams: chatbot.CfnMicrosoftTeamsChannelConfiguration | None = None
        level = config.logging_level
        if config.slack is not None:
            self.slack = chatbot.SlackChannelConfiguration(
                self,
                "Slack",
                slack_channel_configuration_name=SLACK_CONFIGURATION_NAME,
                slack_workspace_id=config.slack.workspace_id,
                slack_channel_id=config.slack.channel_id,
                role=self.role,
                guardrail_policies=[self.guardrail],
                notification_topics=[topic],
                logging_level=chatbot.LoggingLevel[level],
                user_role_required=False,
                # no log_retention: it would add a custom resource function just to set the
                # retention of Chatbot's own log group
            )
        if config.teams is not None:
            self.teams = chatbot.CfnMicrosoftTeamsChannelConfiguration(
                self,
                "Teams",
                configuration_name=TEAMS_CONFIGURATION_NAME,
                team_id=config.teams.team_id,
                teams_tenant_id=config.teams.tenant_id,
                teams_channel_id=config.teams.channel_id,
                iam_role_arn=self.role.role_arn,
                guardrail_policies=[self.guardrail.managed_policy_arn],
                sns_topic_arns=[topic.topic_arn],
                logging_level=level,
                user_role_required=False,
            )
