"""SNS capture: the emails the control plane sends, read back from the emulator.

What moto lacks: its CloudFormation skips ``AWS::SNS::Subscription`` (the stack's email
subscription does not exist) and it sends no email. What it has: SNS -> SQS delivery.

What :class:`Mailbox` does: subscribes a fresh SQS queue to the topic through the API, and
returns every message published to the topic *after* :meth:`Mailbox.attach` as an
:class:`Email` (subject, body), in publication order. Attach it right after the deploy (or,
with ``endpoint_url=None``, under ``moto.mock_aws()``: the tests' harness does).

Chat mode (``Mailbox.attach(..., chat=True)``): the mailbox also subscribes what Amazon Q
Developer in chat applications subscribes, an HTTPS endpoint at
``https://global.sns-api.chatbot.amazonaws.com``, and :meth:`Mailbox.chat_messages` returns
what SNS delivered there (the custom notifications the functions publish under the ``https``
key when ``TRAINGUARD_CHAT`` is set). moto posts to HTTPS subscribers with ``requests.post``
from the process it runs in (the emulator runs in-process): the mailbox records the posts to
that one endpoint instead of sending them, and passes every other post through. Off by
default, so nothing changes for the demo.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .emulator import REGION, make_client

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef


CHATBOT_ENDPOINT = "https://global.sns-api.chatbot.amazonaws.com"
# topic ARN -> the chat messages delivered for it, in delivery order
_chat_deliveries: dict[str, list[dict[str, Any]]] = {}


class _SnsRequests:
    """What ``moto.sns.models`` sees as ``requests``: the real module, but its posts to
    Chatbot's endpoint are recorded per topic instead of sent (only moto's SNS sees this: the
    process's ``requests`` module is untouched)."""

    trainguard_capture = True

    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def post(self, url: str, *args: Any, **kwargs: Any) -> Any:
        if url.rstrip("/") != CHATBOT_ENDPOINT:
            return self._real.post(url, *args, **kwargs)
        data = kwargs.get("json") or {}
        _chat_deliveries.setdefault(str(data.get("TopicArn", "")), []).append(data)
        return None


def _capture_chatbot_posts() -> None:
    """Install :class:`_SnsRequests` in moto's SNS once."""
    import moto.sns.models as sns_models

    current = getattr(sns_models, "requests")  # noqa: B009 (not re-exported: mypy)
    if not getattr(current, "trainguard_capture", False):
        setattr(sns_models, "requests", _SnsRequests(current))  # noqa: B010


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
        self._chat_seen = len(_chat_deliveries.get(topic_arn, []))

    @classmethod
    def attach(
        cls,
        endpoint_url: str | None,
        topic_arn: str,
        *,
        queue_name: str = "trainguard-local-mailbox",
        region: str = REGION,
        chat: bool = False,
    ) -> Mailbox:
        """Create the queue and subscribe it to ``topic_arn`` (raw delivery off: SNS envelope);
        with ``chat``, subscribe Chatbot's HTTPS endpoint too (see the module's docstring)."""
        sqs: SQSClient = make_client("sqs", endpoint_url, region)
        sns: SNSClient = make_client("sns", endpoint_url, region)
        queue_url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        subscription = sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        if chat:
            _capture_chatbot_posts()
            sns.subscribe(TopicArn=topic_arn, Protocol="https", Endpoint=CHATBOT_ENDPOINT)
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

    def chat_messages(self) -> list[dict[str, Any]]:
        """What the chat channel got since :meth:`attach` (chat mode only), oldest first: each
        message as Chatbot reads it (the parsed ``Message`` of SNS's HTTPS delivery)."""
        delivered = _chat_deliveries.get(self.topic_arn, [])[self._chat_seen :]
        out = []
        for data in delivered:
            try:
                out.append(json.loads(data.get("Message", "")))
            except ValueError:  # plain text: what Chatbot would drop
                out.append({"unreadable": data.get("Message", "")})
        return out
