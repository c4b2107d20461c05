"""The chat card built from an email: Chatbot's custom-notification schema, the numbers in
the description, the links as links, within its limits and safe in each client's markdown."""

from __future__ import annotations

import json

import pytest

from trainguard.adapters.chat import (
    DESCRIPTION_LIMIT,
    NEXT_STEP_LIMIT,
    TITLE_LIMIT,
    TRUNCATED,
    custom_notification,
    custom_notification_json,
    escape,
    flavor_for,
    parse_body,
)
from trainguard.core.median import MedianStoppingRule
from trainguard.logic import messages

pytestmark = pytest.mark.unit

CONSOLE = messages.console_link("us-east-1", "job-x")
LOGS = messages.logs_link("us-east-1", "job-x")


def stop_message() -> tuple[str, str]:
    """A real stop email, built by the logic's own message functions."""
    refs = {"a": [(1.0, 0.5)], "b": [(1.0, 0.6)], "c": [(1.0, 0.7)]}
    d = MedianStoppingRule().decide("job-x", [(1.0, 0.9)], refs)
    subject = messages.stop_subject(d, "STOPPED")
    body = messages.body(
        d,
        outcome="STOPPED",
        mode="enforce",
        region="us-east-1",
        details={"Group": "resnet", "Savings": "$12.50", "Logs": LOGS},
    )
    return subject, body


def test_schema_fields_and_values() -> None:
    subject, body = stop_message()
    card = custom_notification(subject, body)
    assert card["version"] == "1.0" and card["source"] == "custom"
    content = card["content"]
    assert content["textType"] == "client-markdown"
    assert content["title"] == "trainguard: STOPPED job-x: median rule, 0.9 > 0.6 at step 1"
    assert set(content) == {"textType", "title", "description", "nextSteps", "keywords"}
    assert content["keywords"] == ["trainguard", "STOPPED", "median", "enforce"]
    meta = card["metadata"]
    assert meta["threadId"] == "trainguard-job-x"  # one thread per job
    assert meta["relatedResources"] == ["job-x"]
    assert meta["additionalContext"]["rule"] == "median"
    assert meta["summary"] == subject


def test_numbers_are_in_the_description_and_links_are_next_steps() -> None:
    subject, body = stop_message()
    content = custom_notification(subject, body, flavor="slack")["content"]
    description = content["description"]
    for line in ("*Value:* `0.9`", "*Threshold:* `0.6`", "*References:* `3`", "*Step:* `1`"):
        assert line in description
    assert "*Savings:* `$12.50`" in description
    assert description.startswith("stop: best 0.9 by step 1")  # the reason comes first
    assert "https://" not in description
    assert content["nextSteps"] == [f"<{LOGS}|Logs>", f"<{CONSOLE}|Console>"]


@pytest.mark.parametrize(
    ("flavor", "console"),
    [
        ("slack", f"<{CONSOLE}|Console>"),
        ("teams", f"[Console]({CONSOLE})"),
        ("portable", f"Console: {CONSOLE}"),  # both clients link a bare URL
    ],
)
def test_links_in_each_client_s_markdown(flavor: str, console: str) -> None:
    subject, body = stop_message()
    steps = custom_notification(subject, body, flavor=flavor)["content"]["nextSteps"]  # type: ignore[arg-type]
    assert console in steps


def test_flavor_follows_the_configured_channels() -> None:
    assert flavor_for("slack") == "slack"
    assert flavor_for("teams") == "teams"
    assert flavor_for("slack,teams") == "portable"
    assert flavor_for("1") == "portable"


def test_markdown_control_characters_are_shown_literally() -> None:
    assert escape("a < b & c > d", "slack") == "a &lt; b &amp; c &gt; d"
    assert escape("*bold* _it_ [x](y) `c`", "teams") == r"\*bold\* \_it\_ \[x\](y) \`c\`"
    assert escape("0.9 > 0.6 <!here> `c`", "portable") == "0.9 > 0.6 \u2039!here> 'c'"
    body = "Job:  a`b\nWhy:  0.9 > 0.6 <@here> & *all*\n"
    description = custom_notification("s", body, flavor="slack")["content"]["description"]
    assert "<@here>" not in description  # no mention, no link injected through a reason
    assert "0.9 &gt; 0.6 &lt;@here&gt; &amp; *all*" in description
    assert "`a'b`" in description  # a backquote cannot end the code span early


def test_a_long_body_is_cut_on_a_line_within_the_limit() -> None:
    body = "Job: j\n" + "".join(f"Note {i}:    {'x' * 90}\n" for i in range(100))
    description = custom_notification("s", body)["content"]["description"]
    assert len(description) <= DESCRIPTION_LIMIT
    assert description.endswith(TRUNCATED)
    assert all(line.endswith("`") for line in description.splitlines()[:-1])  # whole lines


def test_one_huge_line_is_cut_too() -> None:
    body = f"Why: {'y' * 10_000}\nValue: 1\n"
    description = custom_notification("s", body)["content"]["description"]
    assert len(description) <= DESCRIPTION_LIMIT and description.endswith(TRUNCATED)


def test_long_title_and_many_links_stay_within_limits() -> None:
    links = "".join(f"Link{i}: https://example.com/{i}\n" for i in range(9))
    card = custom_notification("[trainguard] " + "t" * 400, "Job: j\n" + links)
    assert len(card["content"]["title"]) <= TITLE_LIMIT
    assert len(card["content"]["nextSteps"]) == NEXT_STEP_LIMIT


def test_free_form_bodies_keep_their_sentences() -> None:
    body = (
        "Job:     j\nProblem: trainguard:direction must be minimize or maximize\n"
        "The job is not evaluated until its tags are fixed.\n\nConsole: https://c\n"
    )
    parsed = parse_body(body)
    assert parsed.links == [("Console", "https://c")]
    assert parsed.sentences == ["The job is not evaluated until its tags are fixed."]
    description = custom_notification("s", body)["content"]["description"]
    assert description.endswith("The job is not evaluated until its tags are fixed.")


def test_a_host_names_the_thread_when_there_is_no_job_line() -> None:
    card = custom_notification("s", "Host:     j-1/algo-2\nRecovered: yes\n")
    assert card["metadata"]["threadId"] == "trainguard-j-1"


def test_json_is_compact_and_round_trips() -> None:
    subject, body = stop_message()
    text = custom_notification_json(subject, body)
    assert json.loads(text) == custom_notification(subject, body)
    assert "\n " not in text
