"""A message as a value: a subject and a body made of parts (fields, sentences, gaps, links),
built by :mod:`trainguard.logic.messages` and rendered at the edge (the SNS adapter): as email
text (:func:`email_text`) and as a chat card
(:func:`trainguard.adapters.chat.message_notification`). The outbox stores the value
(:meth:`Message.to_item`); an outbox item written before messages were values holds the
email's text, which :meth:`Message.plain` keeps as it is.

Pure: no boto3, no environment.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Literal

from .core.stored import Record, entries, record, whole
from .core.values import frozen

PartKind = Literal["field", "sentence", "gap", "link"]
_PART_KINDS: dict[str, PartKind] = {k: k for k in ("field", "sentence", "gap", "link")}


@frozen
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
    def from_item(cls, item: Record) -> Part:
        written = str(item["kind"])
        kind = _PART_KINDS.get(written)
        if kind is None:
            raise ValueError(f"not a message part: {written!r}")
        return cls(kind, str(item.get("text", "")), str(item.get("value", "")))


def field(label: str, value: object) -> Part:
    return Part("field", label, str(value))


def sentence(text: str) -> Part:
    return Part("sentence", text)


def link(label: str, url: str) -> Part:
    return Part("link", label, url)


GAP = Part("gap")


@frozen
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

    def to_item(self) -> dict[str, object]:
        """JSON- and DynamoDB-ready."""
        if self.text is not None:
            return {"subject": self.subject, "text": self.text}
        return {
            "subject": self.subject,
            "width": self.width,
            "parts": [p.to_item() for p in self.parts],
        }

    @classmethod
    def from_item(cls, item: Record) -> Message:
        """The value :meth:`to_item` wrote, or a message written as text before values (an
        outbox item's or a notice claim's ``subject`` and ``body``)."""
        text = item.get("text", item.get("body"))
        if text is not None:
            return cls.plain(str(item["subject"]), str(text))
        parts = tuple(Part.from_item(record(p)) for p in entries(item.get("parts") or ()))
        return cls(str(item["subject"]), parts, whole(item.get("width", 0)))


# ---- rendering user-controlled text as data --------------------------------------------------
# A part's text or value can hold what a user wrote (a FailureReason the training container
# wrote, a group tag): a line break in it must not start a line that reads as one of ours
# (``Job:``, ``Console: <url>``), in the email or in the chat card. Each rendering calls one
# function at its edge: the email and the card :func:`one_line`, the SNS subject
# :func:`subject_line`.
LINE_MARK = " ⏎ "  # a line break inside a value, shown (⏎), never a new line


def one_line(text: str) -> str:
    """``text`` on one line: each line break (``\\n``, ``\\r\\n``, U+2028, U+2029, U+0085,
    vertical tab, form feed) becomes a visible mark, a tab a space, and every other control
    or format character (``\\x00``, bidirectional overrides) is dropped."""
    out: list[str] = []
    for line in text.splitlines():
        out.append("".join(_visible(ch) for ch in line))
    return LINE_MARK.join(out) if len(out) > 1 else (out[0] if out else "")


def _visible(ch: str) -> str:
    if ch == "\t":
        return " "
    return "" if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch


# SNS Publish ``Subject``: "must be UTF-8 text with no line breaks or control characters, and
# less than 100 characters long" (Amazon SNS API reference, PublishRequest.Subject; its older
# wording, and what email clients show, is ASCII text that begins with a letter, number or
# punctuation mark); SNS refuses the publish otherwise (the email would dead-letter).
SUBJECT_LIMIT = 99
ELLIPSIS = "..."
# the few non-ASCII characters trainguard writes, in ASCII (the body keeps the real ones)
_ASCII = {
    "\u2212": "-",
    "\u00d7": "x",
    "\u2026": "...",
    "\u2013": "-",
    "\u2014": "-",
    "\u2265": ">=",
    "\u2264": "<=",
    "\u23ce": "/",
}


def ascii_text(text: str) -> str:
    """``text`` in printable ASCII, on one line (what a subject may hold; its spaces kept)."""
    text = "".join(_ASCII.get(ch, ch) for ch in one_line(text).replace(LINE_MARK, " / "))
    return "".join(ch if " " <= ch <= "~" else "?" for ch in text)


def subject_line(text: str) -> str:
    """``text`` as an SNS subject: ASCII, one line, no control characters, within
    :data:`SUBJECT_LIMIT` (cut at the end with an ellipsis: the subject builder shortens the
    job name first, so the cut is a last resort)."""
    text = " ".join(ascii_text(text).split())
    if len(text) > SUBJECT_LIMIT:
        text = text[: SUBJECT_LIMIT - len(ELLIPSIS)].rstrip() + ELLIPSIS
    return text or "trainguard"


def email_text(message: Message) -> str:
    """The email's plain body: fields aligned at ``width``, one line each part, a blank line
    for a gap (a message that is text already: that text). Every text and value is data:
    :func:`one_line`."""
    if message.text is not None:
        return message.text
    lines = []
    previous = ""
    for part in message.parts:
        text, value = one_line(part.text), one_line(part.value)
        # a link among fields is aligned with them (a retry's console page)
        aligned = part.kind == "field" or (part.kind == "link" and previous == "field")
        if aligned:
            lines.append(f"{f'{text}:'.ljust(message.width - 1)} {value}")
        elif part.kind == "link":
            lines.append(f"{text}: {value}")
        else:
            lines.append(text)
        previous = "field" if aligned else part.kind
    return "\n".join(lines) + "\n"
