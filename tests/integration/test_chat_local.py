"""Chat mode of the local mailbox: the functions, configured as the stack configures them with a
Slack channel, publish a stop; the mailbox's email keeps the plain body and its Chatbot HTTPS
subscription receives the custom notification."""

from __future__ import annotations

import dataclasses

import pytest
from fakes import median_policy
from runtime_support import Aws, LambdaContext
from test_runtime_flow import GROUP_TAGS, complete_references, start_bad_job

from trainguard import constants as c
from trainguard.handlers import evaluator
from trainguard.handlers.runtime import aws_dependencies
from trainguard_local.mailbox import Mailbox

pytestmark = pytest.mark.integration


def test_a_stop_reaches_email_as_text_and_the_channel_as_a_card(aws: Aws) -> None:
    environ = {**aws.environ(median_policy()), c.ENV_CHAT: "slack"}
    deps = dataclasses.replace(aws_dependencies(environ), clock=aws.now)
    complete_references(aws, deps)
    channel = Mailbox.attach(None, aws.topic_arn, queue_name="chat-mailbox", chat=True)
    aws.emails()

    start_bad_job(aws, deps, "digits-mlp-017", {**GROUP_TAGS, "trainguard:mode": "enforce"})
    tick = evaluator.handler({}, LambdaContext(), deps=deps)
    assert tick["stops"] == 1

    (mail,) = aws.emails()
    assert mail["subject"].startswith("[trainguard] STOPPED digits-mlp-017: median rule")
    assert mail["body"].startswith("Job:        digits-mlp-017\n")  # plain, as before
    (card,) = channel.chat_messages()
    assert card["version"] == "1.0" and card["source"] == "custom"
    content = card["content"]
    assert content["title"].startswith("trainguard: STOPPED digits-mlp-017: median rule")
    assert "*References:* `3`" in content["description"]
    assert "*Mode:* `enforce`" in content["description"]
    assert any(step.endswith("|Console>") for step in content["nextSteps"])
    assert card["metadata"]["threadId"] == "trainguard-digits-mlp-017"


def test_without_chat_mode_the_channel_gets_plain_text(aws: Aws) -> None:
    """What Chatbot would drop: the reason the functions need TRAINGUARD_CHAT."""
    deps = aws.deps(median_policy())
    complete_references(aws, deps)
    channel = Mailbox.attach(None, aws.topic_arn, queue_name="chat-mailbox", chat=True)
    start_bad_job(aws, deps, "digits-mlp-018", {**GROUP_TAGS, "trainguard:mode": "enforce"})
    evaluator.handler({}, LambdaContext(), deps=deps)
    (delivered,) = channel.chat_messages()
    assert set(delivered) == {"unreadable"}
    assert delivered["unreadable"].startswith("Job:        digits-mlp-018\n")
