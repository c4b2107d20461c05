"""The fake of :class:`~trainguard.ports.Notifier` (SNS): the messages published, in order."""

from __future__ import annotations

from dataclasses import dataclass

from trainguard.message import Message, email_text

from .faults import FaultInjector


@dataclass
class Email:
    subject: str
    body: str


class FakeNotifier(FaultInjector):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[Email] = []

    def publish(self, subject: str, body: str) -> str:
        self._call("publish")
        self.sent.append(Email(subject, body))
        return f"msg-{len(self.sent)}"

    def send(self, message: Message) -> str:
        """As SNS: the email is the message's text (a fault on ``publish`` fails it)."""
        return self.publish(message.subject, email_text(message))

    def take(self) -> list[Email]:
        """The emails sent since the last take."""
        out, self.sent = self.sent, []
        return out
