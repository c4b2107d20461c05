"""The declarations: the policy, one frozen dataclass per rule's settings, each setting
declared once (:func:`.schema.setting`) with its default, constraint, ``cdk.json`` context key,
job tag and one line of documentation.

Everything else derives from them: :meth:`Policy.from_mapping` validates a JSON document
(the deployed ``TRAINGUARD_POLICY``, a group's calibrated sections), ``infra`` builds the CDK
context keys, ``cdk.json`` and the README's configuration table from :func:`.schema.walk`
(tests keep them equal), the job tags that refine a setting come from its ``tag``, and the
rules are built from the sections by field name (:mod:`.settings`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import field, fields, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

from ..constants import ENV_POLICY, ENV_STOPS_DISABLED
from ..core.instances import InstanceCatalog
from ..core.median import AVERAGES, Average
from ..core.stored import record
from ..core.values import frozen
from .schema import PolicyError, Setting, from_text, parse, section_of, setting, to_dict

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


class Mode(StrEnum):
    """What a job's decisions do: ``observe`` reports them, ``enforce`` stops jobs (stored and
    written as these words: a ``StrEnum`` is the string)."""

    OBSERVE = "observe"
    ENFORCE = "enforce"


MODES: tuple[Mode, ...] = tuple(Mode)
StepUnit = Literal["minute", "report"]
STEP_UNITS: tuple[StepUnit, ...] = ("minute", "report")


def _prices(raw: object) -> dict[str, dict[str, object]]:
    """The ``prices`` document: instance type -> ``gpus`` and/or ``usd_per_hour``."""
    if not isinstance(raw, Mapping):
        raise PolicyError(f"prices must be an object of instance types, got {raw!r}")
    out: dict[str, dict[str, object]] = {}
    for name, spec in raw.items():
        if not isinstance(spec, Mapping):
            raise PolicyError(f"prices.{name} must be an object with gpus and/or usd_per_hour")
        extra = sorted(set(spec) - {"gpus", "usd_per_hour"})
        if extra:
            raise PolicyError(f"unknown key prices.{name}.{extra[0]} (allowed: gpus, usd_per_hour)")
        out[str(name)] = dict(spec)
    try:
        InstanceCatalog(out)
    except ValueError as exc:
        raise PolicyError(str(exc)) from exc
    return out


@frozen
class CatchUpSettings:
    """The catch-up rule (``trainguard.core.catchup``), the default objective rule; its
    defaults and ladder come from the policy study (docs/policy.md)."""

    enabled: bool = setting(
        True,
        key="catchupEnabled",
        doc="catch-up rule on/off: stop a job that could not reach the group's best final value "
        "even with the largest gain any completed job made after its step, plus k x the "
        "group's noise (the default objective rule)",
    )
    min_completed: int = setting(
        3,
        key="catchupMinCompleted",
        minimum=1,
        tag="trainguard:catchup-min-completed",
        doc="catch-up rule: completed jobs that reach the job's step needed before any decision",
    )
    noise_multiple: float = setting(
        8.0,
        key="catchupNoiseMultiple",
        minimum=0,
        tag="trainguard:catchup-k",
        doc="catch-up rule: k, the margin in multiples of the group's noise (smaller stops "
        "more; `trainguard calibrate` picks it per group from 2 to 16)",
    )
    consecutive: int = setting(
        3,
        key="catchupConsecutive",
        minimum=1,
        tag="trainguard:catchup-consecutive",
        doc="catch-up rule: reports in a row that must fall short before the job is stopped",
    )


@frozen
class MedianSettings:
    enabled: bool = setting(
        False,
        key="medianEnabled",
        doc="median stopping rule on/off (Vizier, SageMaker AMT; "
        "`-c medianEnabled=true -c catchupEnabled=false` for exactly that rule)",
    )
    min_completed: int = setting(
        3,
        key="minCompleted",
        minimum=1,
        tag="trainguard:min-completed",
        doc="median rule: completed reference jobs needed before any decision",
    )
    grace: float = setting(
        0.0,
        key="grace",
        minimum=0,
        tag="trainguard:grace",
        doc="median rule: no decision before this step (a gate; the running averages keep "
        "every measurement)",
    )
    average: Average = setting(
        "all",
        key="medianAverage",
        choices=AVERAGES,
        doc="median rule: the references' running average at step s over `all` their "
        "measurements up to s (the spec: Vizier, SageMaker AMT) or only those `since_grace` "
        "(Ray Tune's MedianStoppingRule)",
    )


@frozen
class PatienceSettings:
    enabled: bool = setting(
        False,
        key="patienceEnabled",
        doc="patience rule on/off (a `trainguard:patience` tag turns it on for a job)",
    )
    patience: int = setting(
        5,
        key="patience",
        minimum=1,
        tag="trainguard:patience",
        doc="patience rule: measurements without improvement before stopping",
    )
    min_delta: float = setting(
        0.0,
        key="minDelta",
        minimum=0,
        tag="trainguard:min-delta",
        doc="patience rule: smallest change that counts as an improvement",
    )


@frozen
class DivergenceSettings:
    enabled: bool = setting(
        True, key="divergenceEnabled", doc="divergence rule (NaN/inf, explosion, silence) on/off"
    )
    explode_factor: float = setting(
        10.0,
        key="explodeFactor",
        above=1,
        doc="divergence: a loss above this multiple of its scale (the larger of its first value "
        "and its running median) has diverged",
    )
    silence_minutes: float = setting(
        10.0,
        key="silenceMinutes",
        above=0,
        doc="divergence: objective silent this long while instance metrics arrive",
    )


@frozen
class GpuIdleSettings:
    enabled: bool = setting(True, key="gpuIdleEnabled", doc="per-host GPU-idle alarms on/off")
    threshold_pct: float = setting(
        10.0,
        key="gpuIdleThresholdPct",
        above=0,
        tag="trainguard:gpu-idle-threshold",
        doc="GPU idle below this utilization (per GPU, percent)",
    )
    window_minutes: float = setting(
        15.0, key="gpuIdleWindowMinutes", above=0, doc="... for this many minutes"
    )
    warmup_minutes: float = setting(
        10.0, key="gpuIdleWarmupMinutes", minimum=0, doc="no idle alert in a job's first minutes"
    )
    stop_after_minutes: float | None = setting(
        None,
        key="gpuIdleStopAfterMinutes",
        above=0,
        nullable=True,
        doc="enforce mode: stop a job idle this long; `null` never stops for idleness",
    )


@frozen
class RuntimeSettings:
    enabled: bool = setting(True, key="runtimeGuardEnabled", doc="runtime/cost guard on/off")
    max_runtime_cap_hours: float = setting(
        72.0,
        key="maxRuntimeCapHours",
        above=0,
        doc="alert when a job's MaxRuntimeInSeconds is missing or above this",
    )
    duration_factor: float = setting(
        3.0,
        key="durationFactor",
        above=1,
        doc="alert when a job runs longer than this multiple of its group's median",
    )
    stall_minutes: float = setting(
        30.0,
        key="stallMinutes",
        above=0,
        doc="alert when the objective stopped arriving this long while InProgress",
    )


@frozen
class HangSettings:
    enabled: bool = setting(True, key="hangEnabled", doc="hung-job alerts on/off")
    floor_minutes: float = setting(
        5.0,
        key="hangFloorMinutes",
        above=0,
        doc="hung: the objective silent longer than this, and than the job's own gaps",
    )
    gap_multiple: float = setting(
        3.0,
        key="hangGapMultiple",
        above=1,
        doc="hung: ... and longer than this multiple of its typical report gap",
    )
    window_minutes: float = setting(
        5.0, key="hangWindowMinutes", above=0, doc="hung: GPUs flat over this trailing window"
    )
    flat_range_pct: float = setting(
        5.0, key="hangFlatRangePct", above=0, doc="hung: flat = max - min per GPU within this"
    )
    pinned_pct: float = setting(
        90.0, key="hangPinnedPct", above=0, doc="hung: flat at or above this is pinned"
    )
    idle_pct: float = setting(
        5.0, key="hangIdlePct", minimum=0, doc="hung: flat at or below this is idle"
    )
    stop_after_minutes: float | None = setting(
        None,
        key="hangStopAfterMinutes",
        above=0,
        nullable=True,
        tag="trainguard:hang-stop-after",
        doc="enforce mode: stop a job hung this long since its last report; `null` never",
    )


@frozen
class StragglerSettings:
    enabled: bool = setting(True, key="stragglerEnabled", doc="straggler-host alerts on/off")
    margin_pct: float = setting(
        30.0,
        key="stragglerMarginPct",
        above=0,
        tag="trainguard:straggler-margin",
        doc="straggler: a host this many points per GPU below the other hosts' median ...",
    )
    window_minutes: float = setting(
        10.0, key="stragglerWindowMinutes", above=0, doc="... for this many minutes ..."
    )
    busy_pct: float = setting(
        50.0, key="stragglerBusyPct", above=0, doc="... while the others are at least this busy"
    )


@frozen
class ThroughputSettings:
    enabled: bool = setting(
        True,
        key="throughputEnabled",
        doc="throughput alerts on/off (a job opts in with `trainguard:throughput=<metric>`)",
    )
    fraction: float = setting(
        0.7,
        key="throughputFraction",
        above=0,
        doc="throughput: alert below this fraction of the group's median per instance ...",
    )
    drop: float = setting(
        0.3,
        key="throughputDrop",
        above=0,
        doc="... or after a drop of more than this fraction from its own earlier level",
    )
    warmup_minutes: float = setting(
        10.0, key="throughputWarmupMinutes", minimum=0, doc="throughput: no verdict before this"
    )


@frozen
class CoverageSettings:
    objective_grace_minutes: float = setting(
        15.0,
        key="objectiveGraceMinutes",
        above=0,
        doc="a notice when a job's objective has not arrived this long after its training "
        "started while its instances report (a mistyped `trainguard:objective`)",
    )
    tag_reread_minutes: float = setting(
        5.0,
        key="tagRereadMinutes",
        minimum=1,
        doc="the evaluator re-reads each running job's tags (ListTags) this often, so that a "
        "tag added, fixed or removed on a running job takes effect (docs/coverage.md)",
    )


@frozen
class ReferenceSettings:
    """Who may set a group's thresholds (group poisoning, issue 21; docs/runtime-design.md)."""

    roles: str = setting(
        "",
        key="referenceRoles",
        doc="execution role ARNs (comma-separated) whose completed jobs may become a group's "
        "references; empty: the role of the group's first reference, and no other",
    )

    def allowed(self) -> frozenset[str]:
        return frozenset(r.strip() for r in self.roles.split(",") if r.strip())


@frozen
class ReviveSettings:
    auto: bool = setting(
        False,
        key="reviveAuto",
        doc="revive when the evidence changes: at each completion in a group, its resumable "
        "stopped jobs the rules would no longer stop are revived (docs/revive.md); off by "
        "default, never in observe mode or under a pause",
    )
    per_day: int = setting(
        1,
        key="revivePerDay",
        minimum=1,
        doc="... at most this many a group a UTC day",
    )
    lookback_hours: float = setting(
        48.0,
        key="reviveLookbackHours",
        above=0,
        doc="... among the stops of this many hours before the completion",
    )


@frozen
class Policy:
    mode: Mode = setting(
        Mode.OBSERVE,
        key="mode",
        choices=MODES,
        doc="`observe` reports decisions, `enforce` stops jobs (a job's `trainguard:mode` tag "
        "overrides)",
    )
    tick_minutes: int = setting(
        1,
        key="tickMinutes",
        minimum=1,
        maximum=480,  # the heartbeat alarm spans 3 ticks; CloudWatch allows one day
        doc="evaluator schedule `rate(N minute(s))`; also the heartbeat alarm's period",
    )
    ingestion_lag_minutes: float = setting(
        0.0,
        key="ingestionLagMinutes",
        minimum=0,
        doc="a datapoint counts from this many minutes after its timestamp (the evaluator and "
        "the replay), so that late-ingested points are not skipped",
    )
    step_unit: StepUnit = setting(
        "minute",
        key="stepUnit",
        choices=STEP_UNITS,
        doc="curve steps: `minute` (since TrainingStartTime) or `report` (report index)",
    )
    stops_disabled: bool = setting(
        False,
        key="stopsDisabled",
        doc="global switch: every stop becomes a report (env `TRAINGUARD_STOPS_DISABLED`)",
    )
    reconcile_every_minutes: int = setting(
        5,
        key="reconcileEveryMinutes",
        minimum=1,
        maximum=1440,
        doc="the reconcile (lost events, orphaned alarms) runs on the first tick of every N "
        "minutes, listing the jobs created since the oldest running one (at least an hour back)",
    )
    reconcile_full_every_minutes: int = setting(
        60,
        key="reconcileFullEveryMinutes",
        minimum=1,
        maximum=10080,
        doc="every N minutes the reconcile lists back as far as a job can run (58 days: "
        "SageMaker's longest pending plus running time) for jobs whose events were all lost",
    )
    reconcile_budget_seconds: float = setting(
        15.0,
        key="reconcileBudgetSeconds",
        above=0,
        doc="the reconcile stops listing after this long (newest jobs first); what it did not "
        "reach waits for the next reconcile",
    )
    catchup: CatchUpSettings = field(default_factory=CatchUpSettings)
    median: MedianSettings = field(default_factory=MedianSettings)
    patience: PatienceSettings = field(default_factory=PatienceSettings)
    divergence: DivergenceSettings = field(default_factory=DivergenceSettings)
    gpu_idle: GpuIdleSettings = field(default_factory=GpuIdleSettings)
    runtime: RuntimeSettings = field(default_factory=RuntimeSettings)
    hang: HangSettings = field(default_factory=HangSettings)
    straggler: StragglerSettings = field(default_factory=StragglerSettings)
    throughput: ThroughputSettings = field(default_factory=ThroughputSettings)
    coverage: CoverageSettings = field(default_factory=CoverageSettings)
    references: ReferenceSettings = field(default_factory=ReferenceSettings)
    revive: ReviveSettings = field(default_factory=ReviveSettings)
    prices: Mapping[str, Mapping[str, object]] = setting(
        {},
        key="prices",
        kind="prices",
        parser=_prices,
        doc='instance price/GPU overrides: `{"ml.p4d.24xlarge": {"gpus": 8, "usd_per_hour": '
        "37.69}}`",
    )

    # ---- construction ---------------------------------------------------------------------
    @classmethod
    def from_mapping(cls, raw: Mapping[str, object]) -> Policy:
        """Validate a policy document; every key is optional (defaults from the schema)."""
        if not isinstance(raw, Mapping):
            raise PolicyError(f"policy must be a JSON object, got {type(raw).__name__}")
        return parse(cls, raw)

    @classmethod
    def from_json(cls, text: str, *, source: str = "policy") -> Policy:
        try:
            raw = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as exc:
            raise PolicyError(f"{source}: not valid JSON ({exc})") from exc
        return cls.from_mapping(raw)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Policy:
        """The deployed functions' policy: ``TRAINGUARD_POLICY`` plus the global stop switch."""
        policy = cls.from_json(environ.get(ENV_POLICY, ""), source=ENV_POLICY)
        if from_text(KILL_SWITCH, environ.get(ENV_STOPS_DISABLED), False):
            policy = replace(policy, stops_disabled=True)
        return policy

    @classmethod
    def from_env_failing_safe(cls, environ: Mapping[str, str]) -> tuple[Policy, str | None]:
        """The functions' policy, never an exception: an unusable setting (a kill-switch value
        of "1" or "yes", a bad ``TRAINGUARD_POLICY``) turns every stop into a report while
        alerts go on; the second value says why (logged and alarmed by the handlers)."""
        try:
            return cls.from_env(environ), None
        except PolicyError as exc:
            try:
                policy = cls.from_json(environ.get(ENV_POLICY, ""), source=ENV_POLICY)
            except PolicyError:
                policy = cls()
            return replace(policy, stops_disabled=True), f"{exc}: stops are disabled"

    def to_dict(self) -> dict[str, object]:
        return to_dict(self)

    def catalog(self) -> InstanceCatalog:
        return InstanceCatalog(self.prices)

    def with_sections(self, sections: Mapping[str, Mapping[str, object]]) -> Policy:
        """This policy with ``sections`` (section -> {field: value}: a group's policy) laid
        over it, validated by the schema; raises :class:`PolicyError` naming the bad key."""
        unknown = sorted(set(sections) - set(SECTIONS))
        if unknown:
            raise PolicyError(f"unknown section {unknown[0]} (allowed: {', '.join(SECTIONS)})")
        raw = self.to_dict()
        for name, values in sections.items():
            if not isinstance(values, Mapping):
                raise PolicyError(f"{name} must be an object, got {values!r}")
            raw[name] = {**record(raw[name]), **values}
        return Policy.from_mapping(raw)


# the kill switch as the functions read it (env ``TRAINGUARD_STOPS_DISABLED``): true or false
KILL_SWITCH = Setting(ENV_STOPS_DISABLED, "every stop becomes a report", "bool")


# section name -> its settings (what a group's calibrated policy may lay over the deployed one)
SECTIONS: dict[str, type[DataclassInstance]] = {
    f.name: kind for f in fields(Policy) if (kind := section_of(f)) is not None
}
