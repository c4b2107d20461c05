"""The state table's adapters: one small class per port (``trainguard.ports``), all on one
DynamoDB table whose whole layout is :mod:`.keys`; :func:`table_ports` makes every one of
them for a table (the handler layer and the operator commands use it)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ...core.values import frozen
from .audit import DynamoDBAuditLog
from .episodes import DynamoDBIdleEpisodes
from .events import DynamoDBEventMarks
from .jobs import DynamoDBJobs, DynamoDBRunningJobs
from .ledger import DynamoDBActionLedger
from .outbox import DynamoDBOutbox
from .references import DynamoDBReferences
from .table import StoreError, TableAdapter

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = [
    "DynamoDBActionLedger",
    "DynamoDBAuditLog",
    "DynamoDBEventMarks",
    "DynamoDBIdleEpisodes",
    "DynamoDBJobs",
    "DynamoDBOutbox",
    "DynamoDBReferences",
    "DynamoDBRunningJobs",
    "StoreError",
    "TableAdapter",
    "TablePorts",
    "table_ports",
]


@frozen
class TablePorts:
    """Every port of one state table (a :class:`~trainguard.ports.StateTable`)."""

    jobs: DynamoDBJobs
    running: DynamoDBRunningJobs
    events: DynamoDBEventMarks
    ledger: DynamoDBActionLedger
    outbox: DynamoDBOutbox
    audit: DynamoDBAuditLog
    idle_episodes: DynamoDBIdleEpisodes
    references: DynamoDBReferences


def table_ports(
    client: DynamoDBClient, table_name: str, *, sleep: Callable[[float], None] = time.sleep
) -> TablePorts:
    """The adapters of every port on the table ``table_name``, sharing ``client`` (``sleep``:
    the back-off between BatchGetItem rounds, for tests)."""
    return TablePorts(
        jobs=DynamoDBJobs(client, table_name, sleep=sleep),
        running=DynamoDBRunningJobs(client, table_name, sleep=sleep),
        events=DynamoDBEventMarks(client, table_name, sleep=sleep),
        ledger=DynamoDBActionLedger(client, table_name, sleep=sleep),
        outbox=DynamoDBOutbox(client, table_name, sleep=sleep),
        audit=DynamoDBAuditLog(client, table_name, sleep=sleep),
        idle_episodes=DynamoDBIdleEpisodes(client, table_name, sleep=sleep),
        references=DynamoDBReferences(client, table_name, sleep=sleep),
    )
