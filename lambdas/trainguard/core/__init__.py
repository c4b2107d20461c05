"""The decision core: pure functions over curves. No boto3, no clock, no environment."""

from .cadence import ReportCadence
from .curves import Curve, CurveError, Direction, parse_curve
from .decision import Decision
from .divergence import DivergenceRule
from .engine import ObjectiveRules, verdict
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

__all__ = [
    "DEFAULT_CATALOG",
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
    "StragglerRule",
    "StragglerStatus",
    "ThroughputBaseline",
    "ThroughputRule",
    "ThroughputStatus",
    "ThroughputSummary",
    "completed_per_instance",
    "parse_curve",
    "straggler_episodes",
    "verdict",
]
