"""A message as a value: a subject and a body made of parts (fields, sentences, gaps, links),
built by :mod:`trainguard.logic.messages` and rendered at the edge (the SNS adapter): as email
text (:func:`email_text`) and as a chat card
(:func:`trainguard.chat_message.message_notification`). The outbox stores the value
(:meth:`Message.to_item`); an outbox item written before messages were values holds the
email's text, which :meth:`Message.plain` keeps as it is.

Pure: no boto3, no environment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

PartKind = Literal["field", "sentence", "gap", "link"]


@dataclass(frozen=True)
class Part:
    """One line of a body: a ``field`` (label and value; the email aligns the values, a value
    that is an https URL is a link in chat), a free ``sentence``, a ``gap`` (a blank line in
    the email) or a ``link`` (``Label: url``, not aligned: the job's console page)."""

    kind: PartKind
    text: str = ""  # a field's or a link's label, a sentence
    value: str = ""  # a field's value, a link's URL

    def to_item(self) -> dict[str, str]:
        item = {"kind": self.kind, "text": self.text, "value": self.value}
        return {k: v for k, v in item.items() if v}

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Part:
        kind = str(item["kind"])
        if kind not in ("field", "sentence", "gap", "link"):
            raise ValueError(f"not a message part: {kind!r}")
        return cls(kind, str(item.get("text", "")), str(item.get("value", "")))  # type: ignore[arg-type]


def field(label: str, value: object) -> Part:
    return Part("field", label, str(value))


def sentence(text: str) -> Part:
    return Part("sentence", text)


def link(label: str, url: str) -> Part:
    return Part("link", label, url)


GAP = Part("gap")


@dataclass(frozen=True)
class Message:
    """One message. ``width``: the email's column where field values start. ``text``: the
    whole email body as written (a message from before values; then ``parts`` is empty)."""

    subject: str
    parts: tuple[Part, ...] = ()
    width: int = 0
    text: str | None = None

    @classmethod
    def of(cls, subject: str, parts: Sequence[Part], width: int) -> Message:
        return cls(subject, tuple(parts), width)

    @classmethod
    def plain(cls, subject: str, body: str) -> Message:
        """A message that is already text (an outbox item written before values)."""
        return cls(subject, text=body)

    def fields(self) -> list[tuple[str, str]]:
        return [(p.text, p.value) for p in self.parts if p.kind == "field"]

    def to_item(self) -> dict[str, Any]:
        """JSON- and DynamoDB-ready."""
        if self.text is not None:
            return {"subject": self.subject, "text": self.text}
        return {"subject": self.subject, "width": self.width,
                "parts": [p.to_item() for p in self.parts]}  # fmt: skip

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Message:
        """The value :meth:`to_item` wrote, or a message written as text before values (an
        outbox item's or a notice claim's ``subject`` and ``body``)."""
        text = item.get("text", item.get("body"))
        if text is not None:
            return cls.plain(str(item["subject"]), str(text))
        parts = tuple(Part.from_item(p) for p in item.get("parts") or ())
        return cls(str(item["subject"]), parts, int(item.get("width", 0)))


def email_text(message: Message) -> str:
    """The email's plain body: fields aligned at ``width``, one line each part, a blank line
    for a gap (a message that is text already: that text)."""
    if message.text is not None:
        return message.text
    lines = []
    for part in message.parts:
        if part.kind == "field":
            lines.append(f"{f'{part.text}:'.ljust(message.width - 1)} {part.value}")
        elif part.kind == "link":
            lines.append(f"{part.text}: {part.value}")
        else:
            lines.append(part.text)
    return "\n".join(lines) + "\n"
