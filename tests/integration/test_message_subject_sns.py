"""The SNS adapter gets a subject SNS takes: ASCII, one line, no control character, under its
limit, whatever a FailureReason holds (issue 21: a ``\\x00`` made SNS refuse the FAILED email)."""

from __future__ import annotations

import pytest

from trainguard.adapters.notifier import SnsNotifier
from trainguard.logic import messages
from trainguard.message import SUBJECT_LIMIT

pytestmark = pytest.mark.integration

REGION = "us-east-1"
SDK = "sdk2-ddp-2026-12-06-06-40-49-544"


class _Client:
    def __init__(self) -> None:
        self.calls: list[dict[str, object]] = []

    def publish(self, **kwargs: object) -> dict[str, str]:
        self.calls.append(kwargs)
        return {"MessageId": "m"}


@pytest.mark.parametrize("chat", ["", "slack"])
def test_no_control_character_reaches_the_sns_subject(chat: str) -> None:
    client = _Client()
    message = messages.failed(SDK, "Failed", "boom\x00\x1b[31m\nJob: x\u2028y", "g", "", REGION)
    SnsNotifier(client, "arn:aws:sns:us-east-1:1:t", chat=chat).send(message)  # type: ignore[arg-type]
    (call,) = client.calls
    subject = str(call["Subject"])
    assert subject == f"[trainguard] FAILED {SDK}: boom[31m / Job: x / y"
    assert all(" " <= ch <= "~" for ch in subject) and len(subject) <= SUBJECT_LIMIT
