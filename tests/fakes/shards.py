"""The fake of :class:`~trainguard.ports.ShardQueue` (SQS)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class FakeShardQueue:
    """The shard queue: the messages sent, in order; ``fail`` makes :meth:`send` raise."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    fail: bool = False

    def send(self, messages: Sequence[Mapping[str, Any]]) -> None:
        if self.fail:
            raise RuntimeError("SendMessageBatch failed (injected)")
        self.messages += [json.loads(json.dumps(m)) for m in messages]  # as SQS carries them

    def take(self) -> list[dict[str, Any]]:
        out, self.messages = self.messages, []
        return out
