"""The chat form of a message: an Amazon Q Developer in chat applications (formerly AWS
Chatbot) *custom notification*, rendered from the message's value
(:class:`~trainguard.message.Message`: its fields, sentences and links).

Chatbot drops SNS messages that are not in one of its known formats (an email body is silently
lost), so the chat channel gets this JSON while email keeps the plain text. The numbers go to
the description, the links (a field whose value is an https URL, and the console link) to next
steps. A message that is only text (an outbox item written before messages were values) is
taken apart as before (:func:`parse_body`: ``Key: value`` lines, free sentences, links).

The schema (custom notifications, "Event schema" and "Parameter details" in the Amazon Q
Developer in chat applications admin guide): ``version`` must be ``"1.0"``, ``source`` must be
``"custom"``, ``content.textType`` only ``"client-markdown"``, which Chatbot renders "in the
target chat platform's markdown" (Slack's mrkdwn in Slack, Markdown in Teams). The guide's
excerpts did not give per-field lengths, so the limits below are conservative: Slack's own
3,000-character limit of a text block for the description, 250 characters for a title.

Pure: no boto3, no environment.
"""

from __future__ import annotations

import json
import re
from typing import Literal

from ..core.values import frozen
from ..message import Message, one_line

Flavor = Literal["slack", "teams", "portable"]

TITLE_LIMIT = 250
DESCRIPTION_LIMIT = 3000
NEXT_STEP_LIMIT = 5
KEYWORD_LIMIT = 5
KEYWORD_CHARS = 50
CONTEXT_CHARS = 256  # each metadata.additionalContext value
TRUNCATED = "… (truncated; the email has the full text)"

_PREFIX = "[trainguard]"
# "Key:   value" (the bodies pad keys to align values); a key is a short label, not a sentence
_FIELD = re.compile(r"^(?P<key>[A-Z][A-Za-z0-9 ()/_-]{0,23}):\s+(?P<value>\S.*)$")
_URL = re.compile(r"^https://\S+$")
# Slack's mrkdwn needs &, < and > escaped (its own control characters); Markdown (Teams) takes
# backslash escapes of its specials.
_SLACK_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_\[\]<>#|~])")
_KEYWORD_CHARS = re.compile(r"[^A-Za-z0-9 _.-]+")


@frozen
class ParsedBody:
    """The plain body taken apart: its fields in order, its sentences, its links."""

    fields: list[tuple[str, str]]
    sentences: list[str]
    links: list[tuple[str, str]]  # (label, url)


def parse_body(body: str) -> ParsedBody:
    """Split a trainguard body into ``Key: value`` fields, links (fields whose value is an
    https URL) and the other non-empty lines, each in its order."""
    fields: list[tuple[str, str]] = []
    sentences: list[str] = []
    links: list[tuple[str, str]] = []
    for raw in body.splitlines():
        line = raw.strip()
        if not line:
            continue
        match = _FIELD.match(line)
        if match is None:
            sentences.append(line)
            continue
        key, value = match["key"].strip(), match["value"].strip()
        if _URL.match(value):
            links.append((key, value))
        else:
            fields.append((key, value))
    return ParsedBody(fields, sentences, links)


def parts_of(message: Message) -> ParsedBody:
    """The message's fields, sentences and links, each in its order (no parsing, except for a
    message that is only text). Every text and value is data (:func:`~trainguard.message.
    one_line`: a line break in a FailureReason starts no line of the card); only a ``link``
    part is a next step (a field whose value a user wrote is never a link)."""
    if message.text is not None:
        return parse_body(message.text)
    fields: list[tuple[str, str]] = []
    sentences: list[str] = []
    links: list[tuple[str, str]] = []
    for part in message.parts:
        key, value = one_line(part.text).strip(), one_line(part.value).strip()
        if part.kind == "link":
            if _URL.match(value):
                links.append((key, value))
        elif part.kind == "field":
            fields.append((key, value))
        elif part.kind == "sentence" and key:
            sentences.append(key)
    return ParsedBody(fields, sentences, links)


def flavor_for(chat: str) -> Flavor:
    """The markdown to write for the configured channels (the ``TRAINGUARD_CHAT`` value):
    Slack's alone, Teams' alone, or, for both or an unknown value, text that reads the same in
    both (bare URLs, which both clients make clickable)."""
    kinds = {part.strip().lower() for part in chat.split(",") if part.strip()}
    if kinds == {"slack"}:
        return "slack"
    if kinds == {"teams"}:
        return "teams"
    return "portable"


def escape(text: str, flavor: Flavor) -> str:
    """``text`` shown literally in the flavor's markdown. Portable text (read by both clients)
    has no escape that both understand (Slack shows a backslash, Teams an entity), so it only
    defuses what could inject: ``<`` (Slack's mentions and links, HTML in Teams) becomes a
    look-alike, a backquote a quote; the rest is at worst a stray emphasis."""
    if flavor == "slack":
        return "".join(_SLACK_ESCAPES.get(ch, ch) for ch in text).replace("`", "'")
    if flavor == "teams":
        return _MARKDOWN_SPECIALS.sub(r"\\\1", text)
    return text.replace("<", "\u2039").replace("`", "'")


def _code(text: str) -> str:
    """An inline code span: job names and numbers are never read as markdown (no escaping
    inside code; a backquote would end the span, so it becomes a quote)."""
    return "`" + text.replace("`", "'") + "`"


def _bold(text: str, flavor: Flavor) -> str:
    if flavor == "slack":
        return f"*{text}*"
    if flavor == "teams":
        return f"**{text}**"
    return text  # plain: "*x*" would be bold in Slack and italic in Teams


def _link(label: str, url: str, flavor: Flavor) -> str:
    # a URL never needs escaping here: it is an https URL without spaces (the parser's rule);
    # Slack's link syntax only forbids "|" and ">" in it
    if flavor == "slack" and "|" not in url and ">" not in url:
        return f"<{url}|{label}>"
    if flavor == "teams" and ")" not in url:
        return f"[{label}]({url})"
    return f"{label}: {url}"


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - len(TRUNCATED)].rstrip() + TRUNCATED


def _description(parsed: ParsedBody, flavor: Flavor) -> str:
    """The reason first (the sentence a reader acts on), then every field with its value as
    code, then the body's free sentences; within :data:`DESCRIPTION_LIMIT` (whole lines are
    kept while they fit, then the truncation note)."""
    why = [value for key, value in parsed.fields if key == "Why"]
    lines = [escape(text, flavor) for text in why]
    if lines:
        lines.append("")
    lines += [
        f"{_bold(escape(key, flavor) + ':', flavor)} {_code(value)}"
        for key, value in parsed.fields
        if key != "Why"
    ]
    if parsed.sentences:
        lines.append("")
        lines += [escape(text, flavor) for text in parsed.sentences]
    out: list[str] = []
    size = 0
    for line in lines:
        extra = len(line) + (1 if out else 0)
        if size + extra > DESCRIPTION_LIMIT - len(TRUNCATED) - 1:
            if not out:  # one line longer than the whole limit: cut the line itself
                return _truncate(line, DESCRIPTION_LIMIT)
            out.append(TRUNCATED)
            break
        out.append(line)
        size += extra
    return "\n".join(out).strip()


def _one_line_title(subject: str) -> str:
    """The subject on one line, a URL in it (a FailureReason's) defanged: a title is no link
    (trainguard's own subjects hold no URL)."""
    return " ".join(one_line(subject).split()).replace("://", "[:]//")


def _title(subject: str, flavor: Flavor) -> str:
    text = _one_line_title(subject)
    text = text.removeprefix(_PREFIX).strip() or "trainguard"
    return _truncate(escape(f"trainguard: {text}", flavor), TITLE_LIMIT)


def _first(fields: list[tuple[str, str]]) -> dict[str, str]:
    """Each label's first value (the message's own field comes before anything a value of
    an old text message could pose as)."""
    out: dict[str, str] = {}
    for key, value in fields:
        out.setdefault(key, value)
    return out


def _keywords(parsed: ParsedBody) -> list[str]:
    """Short labels Chatbot shows under the card: the outcome, the rule, the mode."""
    fields = _first(parsed.fields)
    words = ["trainguard"]
    for key in ("Outcome", "Rule", "Mode", "Status"):
        value = fields.get(key)
        if value:
            word = _KEYWORD_CHARS.sub(" ", value.split(" (")[0]).strip()
            if word and word not in words:
                words.append(word[:KEYWORD_CHARS])
    return words[:KEYWORD_LIMIT]


def custom_notification(
    subject: str, body: str, *, flavor: Flavor = "portable"
) -> dict[str, object]:
    """The custom notification for one message: title from the subject, the numbers in the
    description, the links as next steps, and a thread per job (``metadata.threadId``) so
    that a job's alerts, stop and recovery read as one conversation."""
    return _notification(subject, parse_body(body), flavor)


def message_notification(message: Message, *, flavor: Flavor = "portable") -> dict[str, object]:
    """The custom notification for one message, from its value."""
    return _notification(message.subject, parts_of(message), flavor)


def message_notification_json(message: Message, chat: str) -> str:
    """:func:`message_notification` as the compact JSON text SNS carries, in the markdown of
    the configured channels (``TRAINGUARD_CHAT``)."""
    card = message_notification(message, flavor=flavor_for(chat))
    return json.dumps(card, ensure_ascii=False, separators=(",", ":"))


def _notification(subject: str, parsed: ParsedBody, flavor: Flavor) -> dict[str, object]:
    fields = _first(parsed.fields)
    content: dict[str, object] = {
        "textType": "client-markdown",
        "title": _title(subject, flavor),
        "description": _description(parsed, flavor) or escape(subject, flavor),
    }
    steps = [_link(label, url, flavor) for label, url in parsed.links[:NEXT_STEP_LIMIT]]
    if steps:
        content["nextSteps"] = steps
    content["keywords"] = _keywords(parsed)
    job = fields.get("Job") or fields.get("Host", "").split("/algo-")[0]
    metadata: dict[str, object] = {
        "summary": _truncate(_one_line_title(subject), TITLE_LIMIT),
        "eventType": "trainguard",
    }
    if job:
        metadata["threadId"] = f"trainguard-{job}"[:CONTEXT_CHARS]
        metadata["relatedResources"] = [job]
    context = {
        key.lower().replace(" ", "_"): fields[key][:CONTEXT_CHARS]
        for key in ("Job", "Outcome", "Rule", "Mode")
        if fields.get(key)
    }
    if context:
        metadata["additionalContext"] = context
    return {"version": "1.0", "source": "custom", "content": content, "metadata": metadata}


def custom_notification_json(subject: str, body: str, *, flavor: Flavor = "portable") -> str:
    """:func:`custom_notification` as the compact JSON text SNS carries."""
    return json.dumps(
        custom_notification(subject, body, flavor=flavor),
        ensure_ascii=False,
        separators=(",", ":"),
    )
