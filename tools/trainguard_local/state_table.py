"""The stack's DynamoDB table created directly through the API, for moto-backed tests and
benchmarks (the deployed table is ``infra/capabilities/state.py``; the key schema and the
sparse ``running`` index are the ones the runtime relies on: docs/runtime-design.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trainguard.constants import (
    AUDIT_AT_ATTR,
    AUDIT_DAY_ATTR,
    AUDIT_INDEX,
    RUNNING_ATTR,
    RUNNING_INDEX,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def create_state_table(dynamodb: DynamoDBClient, name: str) -> None:
    """pk/sk strings, the sparse GSI ``running`` on ``running_pk`` and the sparse GSI ``audit``
    on ``audit_day`` / ``audit_at``, both projecting everything."""
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": RUNNING_ATTR, "AttributeType": "S"},
            {"AttributeName": AUDIT_DAY_ATTR, "AttributeType": "S"},
            {"AttributeName": AUDIT_AT_ATTR, "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": RUNNING_INDEX,
                "KeySchema": [{"AttributeName": RUNNING_ATTR, "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": AUDIT_INDEX,
                "KeySchema": [
                    {"AttributeName": AUDIT_DAY_ATTR, "KeyType": "HASH"},
                    {"AttributeName": AUDIT_AT_ATTR, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
        ],
        BillingMode="PAY_PER_REQUEST",
    )
