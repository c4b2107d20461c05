"""The fake of :class:`~trainguard.ports.IdleEpisodes`: one item per host of a run, opened
and closed once per episode, the open ones mirrored on the run's ``idle_hosts``."""

from __future__ import annotations

from typing import Any

from trainguard.models import RunId

from .faults import FaultInjector
from .table import FakeTable


class FakeIdleEpisodes(FaultInjector):
    def __init__(self, table: FakeTable | None = None) -> None:
        super().__init__()
        self.table = table or FakeTable()

    def open_episode(self, run: RunId, host: str, now: float) -> bool:
        self._call("open_episode")
        key = self.table.key(run, f"#EPISODE#{host}")
        if self.table.items.get(key, {}).get("state") == "open":
            return False
        self.table.items[key] = {"state": "open", "opened_at": now}
        item = self.table.job(run)
        if item is not None:
            self.table.update_job(run, idle_hosts={**item["record"].idle_hosts, host: now})
        return True

    def close_episode(self, run: RunId, host: str, now: float) -> float | None:
        self._call("close_episode")
        episode = self.table.items.get(self.table.key(run, f"#EPISODE#{host}"))
        if episode is None or episode.get("state") != "open":
            return None
        episode.update(state="closed", closed_at=now)
        item = self.table.job(run)
        if item is not None:
            hosts = {h: t for h, t in item["record"].idle_hosts.items() if h != host}
            self.table.update_job(run, idle_hosts=hosts)
        return float(episode["opened_at"])

    def episode(self, run: RunId, host: str) -> dict[str, Any] | None:
        self._call("episode")
        item = self.table.items.get(self.table.key(run, f"#EPISODE#{host}"))
        return dict(item) if item is not None else None

    def episodes(self, run: RunId) -> dict[str, dict[str, Any]]:
        self._call("episodes")
        pk, prefix = self.table.key(run, "#EPISODE#")
        return {sk[len(prefix) :]: dict(item) for sk, item in self.table.under(pk, prefix)}
