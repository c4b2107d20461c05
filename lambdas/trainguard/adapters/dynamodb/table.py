"""What every adapter of the state table shares: the client and the table's name, and the
reads and writes they all make (a run's item updated under a condition, an item put once,
BatchGetItem with its retries, a partition's items by prefix)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ...models import RunId
from .keys import applied, deserialize, run_key, serialize

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BATCH_GET_LIMIT = 100  # keys per BatchGetItem
BATCH_ATTEMPTS = 8  # BatchGetItem rounds for unprocessed keys before giving up
BACKOFF_BASE_S = 0.05
BACKOFF_CAP_S = 2.0


class StoreError(RuntimeError):
    """The table could not do what was asked (e.g. keys left unprocessed after the retries)."""


class TableAdapter:
    """The base of the state table's adapters (one class per port, all on one table)."""

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._table = table_name
        self._sleep = sleep

    def _get(self, key: Mapping[str, Any]) -> dict[str, Any] | None:
        """One item (a consistent read), deserialized; None if there is none."""
        response = self._client.get_item(TableName=self._table, Key=key, ConsistentRead=True)
        item = response.get("Item")
        return deserialize(item) if item else None

    def _update_run(self, run: RunId, expression: str, **kwargs: Any) -> bool:
        """A conditional UpdateItem of the run's item; False if the condition did not hold."""
        return applied(
            lambda: self._client.update_item(
                TableName=self._table, Key=run_key(run), UpdateExpression=expression, **kwargs
            )
        )

    def _set_in_map(self, run: RunId, attr: str, key: str, value: float | None) -> bool:
        """Set (or, for None, remove) ``key`` in the map ``attr`` of the run's item; False if
        the item has no such map (a run unknown, or registered before the map existed)."""
        if value is None:
            return self._update_run(
                run,
                f"REMOVE {attr}.#k",
                ConditionExpression=f"attribute_exists({attr})",
                ExpressionAttributeNames={"#k": key},
            )
        return self._update_run(
            run,
            f"SET {attr}.#k = :v",
            ConditionExpression=f"attribute_exists({attr})",
            ExpressionAttributeNames={"#k": key},
            ExpressionAttributeValues=serialize({":v": value}),
        )

    def _put_once(self, item: Mapping[str, Any]) -> bool:
        """Put ``item`` unless its key exists: True if written."""
        return applied(
            lambda: self._client.put_item(
                TableName=self._table,
                Item=serialize(item),
                ConditionExpression="attribute_not_exists(pk)",
            )
        )

    def _batch_get(self, keys: Sequence[Mapping[str, Any]], what: str) -> list[dict[str, Any]]:
        """BatchGetItem of ``keys`` in calls of 100. Unprocessed keys (the table throttled
        part of a batch) are asked again with exponential back-off and full jitter; keys
        still unprocessed after ``BATCH_ATTEMPTS`` rounds raise :class:`StoreError` rather
        than being dropped (a tick without a group's statistics would silently judge nothing
        in it)."""
        out: list[dict[str, Any]] = []
        for i in range(0, len(keys), BATCH_GET_LIMIT):
            chunk = [serialize(k) for k in keys[i : i + BATCH_GET_LIMIT]]
            request: dict[str, Any] = {self._table: {"Keys": chunk, "ConsistentRead": True}}
            for attempt in range(BATCH_ATTEMPTS):
                if attempt:
                    self._sleep(random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt)))
                response = self._client.batch_get_item(RequestItems=request)
                out.extend(
                    deserialize(raw) for raw in response.get("Responses", {}).get(self._table, [])
                )
                request = dict(response.get("UnprocessedKeys") or {})
                if not request:
                    break
            else:
                left = len(request.get(self._table, {}).get("Keys", []))
                raise StoreError(
                    f"BatchGetItem left {left} {what} unprocessed after {BATCH_ATTEMPTS} attempts"
                )
        return out

    def _query_prefix(self, pk: str, prefix: str) -> list[dict[str, Any]]:
        """Every item of partition ``pk`` whose sort key starts with ``prefix`` (all: "")."""
        condition, values = "pk = :pk", {":pk": pk}
        if prefix:
            condition, values = f"{condition} AND begins_with(sk, :p)", {**values, ":p": prefix}
        pages = self._client.get_paginator("query").paginate(
            TableName=self._table,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=serialize(values),
        )
        return [deserialize(i) for page in pages for i in page.get("Items", [])]

    def _query_index(
        self, index: str, attr: str, value: str, projection: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        """Every item of a sparse index's partition ``attr = value`` (paged); ``projection``:
        only these attributes of each."""
        kwargs: dict[str, Any] = {}
        if projection:
            names = {f"#a{i}": name for i, name in enumerate(projection)}
            kwargs = {"ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}
        pages = self._client.get_paginator("query").paginate(
            TableName=self._table,
            IndexName=index,
            KeyConditionExpression=f"{attr} = :v",
            ExpressionAttributeValues=serialize({":v": value}),
            **kwargs,
        )
        return [deserialize(i) for page in pages for i in page.get("Items", [])]
