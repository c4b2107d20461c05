"""SNS: the :class:`~trainguard.ports.Notifier` port, one message per decision or alert.

With a chat channel configured (``TRAINGUARD_CHAT``, set by the stack when it adds an Amazon Q
Developer in chat applications channel), one publish carries two forms of the message
(``MessageStructure="json"``, one message per protocol): the plain text for email and every
other subscriber (``default``), and the Chatbot custom notification for ``https``, the protocol
of the subscription Chatbot creates on the topic (endpoint
``https://global.sns-api.chatbot.amazonaws.com``). Chatbot drops plain text, so without this
the channel would stay silent. Without chat the publish is the plain one, as before, so other
HTTPS subscribers see no change.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ..message import Message, email_text, subject_line

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

# ASCII, one line, no control characters, under SNS's limit (trainguard.message.subject_line)
clean_subject = subject_line


def per_protocol_message(subject: str, body: str, chat: str) -> str:
    """The ``Message`` of a ``MessageStructure="json"`` publish of a message that is text."""
    return per_protocol(Message.plain(subject, body), chat)


def per_protocol(message: Message, chat: str) -> str:
    """The ``Message`` of a ``MessageStructure="json"`` publish: ``default`` (required by SNS,
    what SQS, Lambda and email-json subscribers get), ``email`` (the same plain text, named so
    that email never depends on the default) and ``https`` (the chat card), each rendered
    from the message's value."""
    from .chat import message_notification_json  # when a message is sent, not at a cold start

    body = email_text(message)
    card = message_notification_json(message, chat)
    return json.dumps({"default": body, "email": body, "https": card}, ensure_ascii=False)


class SnsNotifier:
    def __init__(self, client: SNSClient, topic_arn: str, *, chat: str = "") -> None:
        self._client = client
        self._topic_arn = topic_arn
        self._chat = chat.strip()

    def publish(self, subject: str, body: str) -> str:
        """Publish a message that is text (its chat card is read from the text)."""
        return self.send(Message.plain(subject, body))

    def send(self, message: Message) -> str:
        if self._chat:
            response = self._client.publish(
                TopicArn=self._topic_arn,
                Subject=clean_subject(message.subject),
                Message=per_protocol(message, self._chat),
                MessageStructure="json",
            )
        else:
            response = self._client.publish(
                TopicArn=self._topic_arn,
                Subject=clean_subject(message.subject),
                Message=email_text(message),
            )
        return str(response.get("MessageId", ""))
