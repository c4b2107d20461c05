"""The fake of :class:`~trainguard.ports.ControlReader` (the runtime controls' items)."""

from __future__ import annotations

import json
from typing import Any

from .faults import FaultInjector


class FakeControls(FaultInjector):
    """The runtime controls' items (name -> JSON value), as the table holds them; ``set``
    writes one as ``trainguard pause | resume | mode`` does."""

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[str, str] = {}
        self.cached: dict[str, str] | None = None  # what a cached read returns (None: no cache)
        self.fresh_reads = 0

    def read(self, fresh: bool = False) -> dict[str, str]:
        """The items now; a cached read (``cache``) the items as they were when cached, as
        Powertools' cache returns them within its max age."""
        self._call("read")
        if fresh:
            self.fresh_reads += 1
        elif self.cached is not None:
            return dict(self.cached)
        return dict(self.items)

    def cache(self) -> None:
        """From now on a cached read returns the items as they are now."""
        self.cached = dict(self.items)

    def set(self, name: str = "GLOBAL", **value: Any) -> None:
        self.items[name] = json.dumps(value)
