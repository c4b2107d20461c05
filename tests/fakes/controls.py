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

    def read(self) -> dict[str, str]:
        self._call("read")
        return dict(self.items)

    def set(self, name: str = "GLOBAL", **value: Any) -> None:
        self.items[name] = json.dumps(value)
