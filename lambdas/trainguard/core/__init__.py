"""The decision core: pure functions over curves. No boto3, no clock, no environment.

The names below load their module on first use (PEP 562): a handler pays at import only for
the rules it runs, which keeps every function's cold start within its budget (``make bench``,
``cold_start.import_ratio_to_boto3``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cadence import ReportCadence
    from .catchup import CatchUpModel, CatchUpRule, CatchUpVerdict, WorseStreak
    from .curves import Curve, CurveError, Direction, parse_curve
    from .decision import Decision
    from .divergence import DivergenceRule
    from .engine import ObjectiveRules, StopCheck, verdict
    from .gpu_idle import GpuIdleRule, HostStatus
    from .hang import Hang, HangRule, HostLevel
    from .instances import DEFAULT_CATALOG, InstanceCatalog, InstanceSpec
    from .median import DirectReferences, MedianStoppingRule, MedianVerdict, ReferenceTable
    from .patience import PatienceRule
    from .runtime_guard import RuntimeGuard
    from .straggler import EpisodeChanges, StragglerRule, StragglerStatus, straggler_episodes
    from .summary import CurveSummary
    from .throughput import (
        ThroughputBaseline,
        ThroughputRule,
        ThroughputStatus,
        ThroughputSummary,
        completed_per_instance,
    )

_WHERE: dict[str, str] = {
    "CatchUpModel": "catchup",
    "CatchUpRule": "catchup",
    "CatchUpVerdict": "catchup",
    "Curve": "curves",
    "CurveError": "curves",
    "CurveSummary": "summary",
    "DEFAULT_CATALOG": "instances",
    "Decision": "decision",
    "DirectReferences": "median",
    "Direction": "curves",
    "DivergenceRule": "divergence",
    "EpisodeChanges": "straggler",
    "GpuIdleRule": "gpu_idle",
    "Hang": "hang",
    "HangRule": "hang",
    "HostLevel": "hang",
    "HostStatus": "gpu_idle",
    "InstanceCatalog": "instances",
    "InstanceSpec": "instances",
    "MedianStoppingRule": "median",
    "MedianVerdict": "median",
    "ObjectiveRules": "engine",
    "PatienceRule": "patience",
    "ReferenceTable": "median",
    "ReportCadence": "cadence",
    "RuntimeGuard": "runtime_guard",
    "StragglerRule": "straggler",
    "StopCheck": "engine",
    "StragglerStatus": "straggler",
    "ThroughputBaseline": "throughput",
    "ThroughputRule": "throughput",
    "ThroughputStatus": "throughput",
    "ThroughputSummary": "throughput",
    "WorseStreak": "catchup",
    "completed_per_instance": "throughput",
    "parse_curve": "curves",
    "straggler_episodes": "straggler",
    "verdict": "engine",
}

__all__ = [
    "DEFAULT_CATALOG",
    "CatchUpModel",
    "CatchUpRule",
    "CatchUpVerdict",
    "Curve",
    "CurveError",
    "CurveSummary",
    "Decision",
    "DirectReferences",
    "Direction",
    "DivergenceRule",
    "EpisodeChanges",
    "GpuIdleRule",
    "Hang",
    "HangRule",
    "HostLevel",
    "HostStatus",
    "InstanceCatalog",
    "InstanceSpec",
    "MedianStoppingRule",
    "MedianVerdict",
    "ObjectiveRules",
    "PatienceRule",
    "ReferenceTable",
    "ReportCadence",
    "RuntimeGuard",
    "StopCheck",
    "StragglerRule",
    "StragglerStatus",
    "ThroughputBaseline",
    "ThroughputRule",
    "ThroughputStatus",
    "ThroughputSummary",
    "WorseStreak",
    "completed_per_instance",
    "parse_curve",
    "straggler_episodes",
    "verdict",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
