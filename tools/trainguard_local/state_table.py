"""The stack's DynamoDB table created directly through the API, for moto-backed tests and
benchmarks (the deployed table is ``infra/capabilities/state.py``; the key schema and the
sparse ``running`` index are the ones the runtime relies on: docs/runtime-design.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trainguard.constants import RUNNING_ATTR, RUNNING_INDEX

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def create_state_table(dynamodb: DynamoDBClient, name: str) -> None:
    """pk/sk strings, the sparse GSI ``running`` on ``running_pk`` projecting everything."""
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": RUNNING_ATTR, "AttributeType": "S"},
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
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
