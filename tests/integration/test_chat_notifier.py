"""The SNS adapter with a chat channel: one publish, a message per protocol. On moto, an SQS
subscriber (what email-like subscribers get: ``default``) keeps the plain body and an HTTPS
subscriber at Chatbot's endpoint gets the custom notification; botocore's Stubber pins the
exact request, with and without chat."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import moto
import moto.sns.models
import pytest
from botocore.stub import Stubber

from trainguard import constants as c
from trainguard.adapters.chat import custom_notification_json
from trainguard.adapters.notifier import SnsNotifier, clean_subject, per_protocol_message
from trainguard.handlers.runtime import aws_dependencies

pytestmark = pytest.mark.integration

CHATBOT_ENDPOINT = "https://global.sns-api.chatbot.amazonaws.com"
SUBJECT = "[trainguard] STOPPED job-x: median rule, 0.9 > 0.6 at step 1"
BODY = (
    "Job:        job-x\nOutcome:    STOPPED\nRule:       median\n"
    "Why:        stop: best 0.9 by step 1 is worse than the median 0.6\n"
    "Value:      0.9\nThreshold:  0.6\nReferences: 3\nMode:       enforce\n\n"
    "Console: https://us-east-1.console.aws.amazon.com/sagemaker/home?region=us-east-1#/jobs/job-x\n"
)


class Topic:
    """A moto topic with an SQS subscriber and Chatbot's HTTPS subscriber; what each got."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sns = boto3.client("sns", region_name="us-east-1")
        self.sqs = boto3.client("sqs", region_name="us-east-1")
        self.arn = self.sns.create_topic(Name="trainguard-alerts")["TopicArn"]
        self.queue = self.sqs.create_queue(QueueName="mailbox")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.sns.subscribe(TopicArn=self.arn, Protocol="sqs", Endpoint=queue_arn)
        self.sns.subscribe(TopicArn=self.arn, Protocol="https", Endpoint=CHATBOT_ENDPOINT)
        self.posted: list[tuple[str, dict[str, Any]]] = []

        # moto delivers to HTTP(S) subscribers with requests.post: record it (no network)
        def post(url: str, json: dict[str, Any], **_: Any) -> None:
            self.posted.append((url, json))

        monkeypatch.setattr(moto.sns.models.requests, "post", post)

    def queued(self) -> list[dict[str, Any]]:
        got = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10)
        return [json.loads(m["Body"]) for m in got.get("Messages", [])]


@pytest.fixture
def topic(monkeypatch: pytest.MonkeyPatch) -> Iterator[Topic]:
    with moto.mock_aws():
        yield Topic(monkeypatch)


def test_with_chat_https_gets_the_card_and_sqs_the_plain_body(topic: Topic) -> None:
    SnsNotifier(topic.sns, topic.arn, chat="slack").publish(SUBJECT, BODY)
    (envelope,) = topic.queued()
    assert envelope["Message"] == BODY  # the plain text, as email shows it
    assert envelope["Subject"] == SUBJECT
    ((url, delivered),) = topic.posted
    assert url == CHATBOT_ENDPOINT
    card = json.loads(delivered["Message"])
    assert card == json.loads(custom_notification_json(SUBJECT, BODY, flavor="slack"))
    assert card["source"] == "custom" and card["content"]["title"].endswith("at step 1")
    assert "*Value:* `0.9`" in card["content"]["description"]


def test_without_chat_every_subscriber_gets_the_plain_body(topic: Topic) -> None:
    SnsNotifier(topic.sns, topic.arn).publish(SUBJECT, BODY)
    (envelope,) = topic.queued()
    assert envelope["Message"] == BODY
    ((_, delivered),) = topic.posted
    assert delivered["Message"] == BODY  # other HTTPS subscribers: unchanged


def test_the_exact_request_with_chat() -> None:
    client = boto3.client("sns", region_name="us-east-1")
    arn = "arn:aws:sns:us-east-1:123456789012:trainguard-alerts"
    with Stubber(client) as stub:
        stub.add_response(
            "publish",
            {"MessageId": "m-1"},
            {
                "TopicArn": arn,
                "Subject": clean_subject(SUBJECT),
                "Message": per_protocol_message(SUBJECT, BODY, "slack,teams"),
                "MessageStructure": "json",
            },
        )
        assert SnsNotifier(client, arn, chat="slack,teams").publish(SUBJECT, BODY) == "m-1"
        stub.assert_no_pending_responses()
    message = json.loads(per_protocol_message(SUBJECT, BODY, "slack,teams"))
    assert set(message) == {"default", "email", "https"}
    assert message["default"] == message["email"] == BODY
    card = json.loads(message["https"])
    assert card["content"]["nextSteps"][0].startswith("Console: https://")  # portable links


def test_the_exact_request_without_chat() -> None:
    client = boto3.client("sns", region_name="us-east-1")
    arn = "arn:aws:sns:us-east-1:123456789012:trainguard-alerts"
    with Stubber(client) as stub:
        stub.add_response(
            "publish",
            {"MessageId": "m-2"},
            {"TopicArn": arn, "Subject": clean_subject(SUBJECT), "Message": BODY},
        )
        assert SnsNotifier(client, arn, chat="  ").publish(SUBJECT, BODY) == "m-2"
        stub.assert_no_pending_responses()


def test_a_refused_publish_raises_so_the_outbox_keeps_the_message() -> None:
    client = boto3.client("sns", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error("publish", "InvalidParameter", "Message too long")
        with pytest.raises(client.exceptions.InvalidParameterException):
            SnsNotifier(client, "arn:aws:sns:us-east-1:1:t", chat="slack").publish(SUBJECT, BODY)


def test_the_runtime_passes_the_stack_s_chat_flag() -> None:
    env = {c.ENV_TABLE_NAME: "t", c.ENV_TOPIC_ARN: "arn:aws:sns:us-east-1:1:t"}
    client = boto3.client("sns", region_name="us-east-1")
    for environ, expect_json in (({**env, c.ENV_CHAT: "teams"}, True), (env, False)):
        notifier = aws_dependencies(environ).notifier
        notifier._client = client  # type: ignore[attr-defined]
        with Stubber(client) as stub:
            expected: dict[str, Any] = {
                "TopicArn": env[c.ENV_TOPIC_ARN],
                "Subject": clean_subject(SUBJECT),
                "Message": per_protocol_message(SUBJECT, BODY, "teams") if expect_json else BODY,
            }
            if expect_json:
                expected["MessageStructure"] = "json"
            stub.add_response("publish", {"MessageId": "m"}, expected)
            notifier.publish(SUBJECT, BODY)
            stub.assert_no_pending_responses()
