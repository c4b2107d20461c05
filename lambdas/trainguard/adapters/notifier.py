"""SNS: the :class:`~trainguard.ports.Notifier` port, one message per decision or alert."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

SUBJECT_LIMIT = 99  # SNS: "less than 100 characters", no line breaks or control characters


def clean_subject(subject: str) -> str:
    """ASCII, one line, under SNS's limit (email clients show it in the inbox list)."""
    text = " ".join(subject.split())
    text = text.encode("ascii", "replace").decode("ascii")
    if len(text) > SUBJECT_LIMIT:
        text = text[: SUBJECT_LIMIT - 3].rstrip() + "..."
    return text


class SnsNotifier:
    def __init__(self, client: SNSClient, topic_arn: str) -> None:
        self._client = client
        self._topic_arn = topic_arn

    def publish(self, subject: str, body: str) -> str:
        response = self._client.publish(
            TopicArn=self._topic_arn, Subject=clean_subject(subject), Message=body
        )
        return str(response.get("MessageId", ""))
