"""Faults injected per method, for every fake: ``fake.fail("stop", ThrottlingError(...))``
makes the next call of ``stop`` raise it (``times=`` for more than one, ``after=`` to let
some calls through first); ``fake.calls`` counts the calls of each method."""

from __future__ import annotations

from collections import defaultdict


class FaultInjector:
    """``fail(method, exc, times=1, after=0)``: calls of ``method`` raise ``exc``."""

    def __init__(self) -> None:
        self._faults: dict[str, list[BaseException | None]] = defaultdict(list)
        self.calls: dict[str, int] = defaultdict(int)

    def fail(self, method: str, exc: BaseException, times: int = 1, after: int = 0) -> None:
        """The ``times`` calls of ``method`` after the next ``after`` ones raise ``exc``."""
        self._faults[method].extend([None] * after + [exc] * times)

    def _call(self, method: str) -> None:
        self.calls[method] += 1
        if self._faults[method]:
            fault = self._faults[method].pop(0)
            if fault is not None:
                raise fault
