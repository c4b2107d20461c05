"""SQS: the :class:`~trainguard.ports.ShardQueue`, one message a shard (SendMessageBatch, 10
a call). Entries SQS did not take (``Failed``) are sent again with back-off, a few rounds;
what is still not sent raises, naming how many (the planner counts it in ``JobErrors``)."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

BATCH_LIMIT = 10  # entries per SendMessageBatch
SEND_ATTEMPTS = 4
BACKOFF_BASE_S = 0.05
BACKOFF_CAP_S = 1.0


class ShardSendError(RuntimeError):
    """Shard messages the queue did not take after every retry."""


class SqsShardQueue:
    def __init__(
        self, client: SQSClient, queue_url: str, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._client = client
        self._url = queue_url
        self._sleep = sleep

    def send(self, messages: Sequence[Mapping[str, Any]]) -> None:
        failed = 0
        for i in range(0, len(messages), BATCH_LIMIT):
            entries: dict[str, Any] = {
                str(i + k): {"Id": str(i + k), "MessageBody": json.dumps(m, separators=(",", ":"))}
                for k, m in enumerate(messages[i : i + BATCH_LIMIT])
            }
            for attempt in range(SEND_ATTEMPTS):
                if attempt:
                    self._sleep(random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt)))
                response = self._client.send_message_batch(
                    QueueUrl=self._url, Entries=list(entries.values())
                )
                for ok in response.get("Successful", []):
                    entries.pop(ok["Id"], None)
                if not entries:
                    break
            failed += len(entries)
        if failed:
            raise ShardSendError(f"{failed} shard message(s) not sent after {SEND_ATTEMPTS} tries")
