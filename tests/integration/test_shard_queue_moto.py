"""The sharded tick on moto: the planner sends its shards to an SQS queue, the shard function
takes them from the SQS event (batch size 1), judges and saves its jobs; a shard delivered
twice changes nothing."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from runtime_support import Aws, LambdaContext, state_change

from trainguard.adapters import SqsShardQueue, table_ports
from trainguard.config import Policy
from trainguard.handlers import evaluator, lifecycle, shard

pytestmark = pytest.mark.integration

CTX = LambdaContext()


def scheduled(ts: float) -> dict[str, Any]:
    return {
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "time": datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "detail": {},
    }


def sqs_event(aws: Aws, url: str) -> list[dict[str, Any]]:
    """Every message in the queue, as Lambda's SQS event source delivers them (one a batch)."""
    events = []
    while True:
        got = aws.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return events
        for m in got:
            record = {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "eventSource": "aws:sqs",
            }
            events.append({"Records": [record]})
            aws.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def test_planner_queue_shard_on_moto(aws: Aws) -> None:
    url = aws.sqs.create_queue(QueueName="trainguard-shards")["QueueUrl"]
    deps = replace(aws.deps(Policy()), shards=SqsShardQueue(aws.sqs, url), shard_size=2)
    start = aws.now() - 20 * 60
    start -= start % 60
    names = [f"job-{g}-{i}" for g in ("a", "b") for i in range(3)]
    for name in names:
        tags = {"trainguard:group": name[4], "trainguard:objective": "val_loss"}
        arn = aws.create_job(name, tags, start=start)
        aws.put_curve(name, "val_loss", start, [1.0 / (1 + 0.1 * m) for m in range(20)])
        lifecycle.handler(
            state_change(name, "InProgress", arn=arn, start=start, tags=tags), CTX, deps=deps
        )
    now = start + 20 * 60 + 30
    planned = evaluator.handler(scheduled(now), CTX, deps=deps)
    # 6 jobs in 2 groups of 3, shards of at most 2: each group split in 2 (2 + 1): 3 shards
    # once packed (the two single-job pieces share one)
    assert planned["jobs"] == 6 and planned["shards"] == 3 and planned["evaluated"] == 0
    events = sqs_event(aws, url)
    assert len(events) == 3
    body = json.loads(events[0]["Records"][0]["body"])
    assert body["now"] == now and {
        len(json.loads(e["Records"][0]["body"])["runs"]) for e in events
    } == {2}
    state = table_ports(aws.dynamodb, "trainguard-test")
    for event in events:
        out = shard.handler(event, CTX, deps=deps)
        assert out["batchItemFailures"] == [] and out["shards"][0]["errors"] == 0
    saved = {n: state.jobs.latest_run(n).progress for n in names}  # type: ignore[union-attr]
    assert all(p is not None and p.checked == now and p.summary.count == 20 for p in saved.values())
    # a duplicate delivery of every shard: nothing moves, nothing fails
    for event in events:
        assert shard.handler(event, CTX, deps=deps)["batchItemFailures"] == []
    assert {n: state.jobs.latest_run(n).progress for n in names} == saved  # type: ignore[union-attr]
