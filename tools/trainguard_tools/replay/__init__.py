"""``trainguard replay``: run a policy over past jobs on a simulated clock.

- :mod:`.results`: the result types (:class:`StopEvent`, :class:`JobOutcome`, :class:`ReplayTotals`,
  :class:`ReplayResult`, :class:`SweepRow`) and the accounting that builds them;
- :mod:`.engine`: the timeline (:func:`replay`, :func:`replay_orders` in several launch
  orders, :func:`sweep`) and its semantics;
- :mod:`.report`: the terminal tables; :mod:`.plots`: the figures (matplotlib, imported only
  for ``--plots``); both read the results, never the engine;
- :mod:`.cloudwatch`: ``--from-cloudwatch``, an account's past jobs as curve records;
- :mod:`.command`: the subcommand.
"""

from __future__ import annotations

from .command import register
from .engine import (
    SMALL_SWEEP_GRACE,
    SMALL_SWEEP_MIN_COMPLETED,
    SWEEP_GRACE,
    SWEEP_MIN_COMPLETED,
    launch_orders,
    record_settings,
    replay,
    replay_orders,
    sweep,
)
from .results import (
    JobOutcome,
    OrdersResult,
    ReplayResult,
    ReplayTotals,
    StopEvent,
    SweepRow,
    cost_of,
    summarize_group,
    summarize_orders,
    summarize_overall,
    sweep_row,
)

__all__ = [
    "SMALL_SWEEP_GRACE",
    "SMALL_SWEEP_MIN_COMPLETED",
    "SWEEP_GRACE",
    "SWEEP_MIN_COMPLETED",
    "JobOutcome",
    "OrdersResult",
    "ReplayResult",
    "ReplayTotals",
    "StopEvent",
    "SweepRow",
    "cost_of",
    "launch_orders",
    "record_settings",
    "register",
    "replay",
    "replay_orders",
    "summarize_group",
    "summarize_orders",
    "summarize_overall",
    "sweep",
    "sweep_row",
]
