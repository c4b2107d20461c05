"""The :class:`~trainguard.ports.IdleEpisodes` on the state table: one item per host of a run
(``EPISODE``), the open ones mirrored on the run's ``idle_hosts`` (the tick reads them with
the running jobs)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from ...models import RunId
from .keys import EPISODE, applied, deserialize, job_pk, run_key, run_sk, serialize
from .table import TableAdapter

if TYPE_CHECKING:
    from ...ports import EpisodeItem


class DynamoDBIdleEpisodes(TableAdapter):
    def open_episode(self, run: RunId, host: str, now: float) -> bool:
        """Open ``EPISODE#<host>`` unless already open; True for the transition (one email)."""
        opened = applied(
            lambda: self._client.update_item(
                TableName=self._table,
                Key=run_key(run, EPISODE + host),
                UpdateExpression="SET #st = :open, opened_at = :t REMOVE closed_at",
                ConditionExpression="attribute_not_exists(pk) OR #st <> :open",
                ExpressionAttributeNames={"#st": "state"},
                ExpressionAttributeValues=serialize({":open": "open", ":t": now}),
            )
        )
        if opened:
            self._set_idle_host(run, host, now)
        return opened

    def close_episode(self, run: RunId, host: str, now: float) -> float | None:
        """Close an open episode; its opening time for the transition, None if none was open."""
        old: dict[str, Any] = {}

        def close() -> None:
            response = self._client.update_item(
                TableName=self._table,
                Key=run_key(run, EPISODE + host),
                UpdateExpression="SET #st = :closed, closed_at = :t",
                ConditionExpression="#st = :open",
                ExpressionAttributeNames={"#st": "state"},
                ExpressionAttributeValues=serialize(
                    {":open": "open", ":closed": "closed", ":t": now}
                ),
                ReturnValues="ALL_OLD",
            )
            old.update(deserialize(response.get("Attributes", {})))

        if not applied(close):
            return None
        self._set_idle_host(run, host, None)
        return float(old.get("opened_at", now))

    def episode(self, run: RunId, host: str) -> EpisodeItem | None:
        """The host's episode item (state, opened_at, closed_at), if there is one."""
        return cast("EpisodeItem | None", self._get(run_key(run, EPISODE + host)))

    def episodes(self, run: RunId) -> dict[str, EpisodeItem]:
        """The run's GPU-idle episodes by host (state, opened_at, closed_at): one Query."""
        prefix = run_sk(run, EPISODE)
        return {
            str(item["sk"])[len(prefix) :]: cast("EpisodeItem", item)
            for item in self._query_prefix(job_pk(run.name), prefix)
        }

    def _set_idle_host(self, run: RunId, host: str, opened_at: float | None) -> None:
        """Mirror open episodes on the run's item (the tick reads it from the running index)."""
        self._set_in_map(run, "idle_hosts", host, opened_at)
