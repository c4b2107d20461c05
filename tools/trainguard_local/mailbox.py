"""SNS capture: the emails the control plane sends, read back from the emulator.

What moto lacks: its CloudFormation skips ``AWS::SNS::Subscription`` (the stack's email
subscription does not exist) and it sends no email. What it has: SNS -> SQS delivery.

What :class:`Mailbox` does: subscribes a fresh SQS queue to the topic through the API, and
returns every message published to the topic *after* :meth:`Mailbox.attach` as an
:class:`Email` (subject, body), in publication order. Attach it right after the deploy (or,
with ``endpoint_url=None``, under ``moto.mock_aws()``: the tests' harness does).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .emulator import REGION, make_client

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef


@dataclass(frozen=True)
class Email:
    """One message published to the topic, as an email subscriber would see it."""

    subject: str
    body: str
    message_id: str
    timestamp: str  # SNS's ISO timestamp of the publish


class Mailbox:
    """Captures what is published to one SNS topic, through an SQS subscription.

    Usage::

        mailbox = Mailbox.attach(emu.endpoint_url, topic_arn)
        ...                                   # the run publishes
        for email in mailbox.emails():        # every email so far, oldest first
            print(email.subject)
    """

    def __init__(
        self,
        endpoint_url: str | None,
        topic_arn: str,
        queue_url: str,
        subscription_arn: str,
        region: str,
    ) -> None:
        self.topic_arn = topic_arn
        self.queue_url = queue_url
        self.subscription_arn = subscription_arn
        self._sqs: SQSClient = make_client("sqs", endpoint_url, region)
        self._received: list[Email] = []

    @classmethod
    def attach(
        cls,
        endpoint_url: str | None,
        topic_arn: str,
        *,
        queue_name: str = "trainguard-local-mailbox",
        region: str = REGION,
    ) -> Mailbox:
        """Create the queue and subscribe it to ``topic_arn`` (raw delivery off: SNS envelope)."""
        sqs: SQSClient = make_client("sqs", endpoint_url, region)
        sns: SNSClient = make_client("sns", endpoint_url, region)
        queue_url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        subscription = sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        return cls(endpoint_url, topic_arn, queue_url, subscription["SubscriptionArn"], region)

    def _drain(self) -> None:
        batch: list[tuple[str, int, Email]] = []
        while True:
            response = self._sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            )
            messages: list[MessageTypeDef] = response.get("Messages", [])
            if not messages:
                break
            for message in messages:
                envelope = json.loads(message["Body"])
                email = Email(
                    subject=envelope.get("Subject") or "",
                    body=envelope.get("Message", ""),
                    message_id=envelope.get("MessageId", ""),
                    timestamp=envelope.get("Timestamp", ""),
                )
                batch.append((email.timestamp, len(batch), email))
            self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(messages)
                ],
            )
        # SNS timestamps have millisecond resolution; receive order breaks ties.
        self._received += [email for _, _, email in sorted(batch, key=lambda item: item[:2])]

    def emails(self) -> list[Email]:
        """Every email captured so far, oldest first."""
        self._drain()
        return list(self._received)

    def new_emails(self) -> list[Email]:
        """Only the emails captured since the previous call of ``new_emails`` or ``emails``."""
        seen = len(self._received)
        self._drain()
        return self._received[seen:]
