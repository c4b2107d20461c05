"""The policy: one declared schema for the Lambdas, the replay, the local run and the stack.

Each setting is declared once, as a field of a frozen dataclass with its default, its
constraint, its deploy-time context key (``cdk.json``), its job tag (where a job may override
it) and one line of documentation (:func:`setting`). Everything else derives from those
declarations: :meth:`Policy.from_mapping` validates a JSON document against them, ``infra``
builds the CDK context keys and ``cdk.json`` from them, the README's configuration table is
generated from them (tests keep both equal), and a bad value raises :class:`PolicyError`
naming its key, e.g. ``median.min_completed must be an integer >= 1, got 0``, with the
setting attached (``exc.setting.key`` is the context key; nothing parses the message).

Why not pydantic (the Powertools parser): importing pydantic and declaring these seven models
costs about 190 ms on this machine, half of a bare ``import boto3``, which alone breaks the
cold-start budget (handler import <= 1.3 x ``import boto3``). The validator below is about
a hundred lines over the same declarations.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields, replace
from functools import cached_property
from typing import Any, Literal, TypeVar

from .constants import (
    ENV_POLICY,
    ENV_STOPS_DISABLED,
    TAG_DIRECTION,
    TAG_GROUP,
    TAG_MODE,
    TAG_OBJECTIVE,
    TAG_PROTECT,
    TAG_THROUGHPUT,
)
from .core.catchup import CatchUpRule
from .core.curves import DIRECTIONS, Direction
from .core.divergence import DivergenceRule
from .core.engine import ObjectiveRules
from .core.gpu_idle import GpuIdleRule
from .core.hang import HangRule
from .core.instances import InstanceCatalog
from .core.median import AVERAGES, Average, MedianStoppingRule
from .core.patience import PatienceRule
from .core.runtime_guard import RuntimeGuard
from .core.straggler import StragglerRule
from .core.throughput import ThroughputRule

Mode = Literal["observe", "enforce"]
MODES: tuple[Mode, ...] = ("observe", "enforce")
StepUnit = Literal["minute", "report"]
STEP_UNITS: tuple[StepUnit, ...] = ("minute", "report")

Kind = Literal["bool", "int", "number", "text", "choice", "prices"]
T = TypeVar("T")


@dataclass(frozen=True)
class Setting:
    """What is declared about one setting (the schema)."""

    key: str  # the deploy-time context key (cdk.json, `-c key=value`)
    doc: str  # one line for the README's table
    kind: Kind
    minimum: float | None = None  # inclusive
    above: float | None = None  # exclusive
    maximum: float | None = None  # inclusive
    choices: tuple[Any, ...] = ()
    nullable: bool = False  # None is a valid value (e.g. "never")
    tag: str | None = None  # a job tag that overrides it for one job
    path: str = ""  # dotted path in the policy document, filled in by walk()

    def describe(self) -> str:
        """The constraint in words (error messages, the README)."""
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return "one of " + ", ".join(map(str, self.choices))
        if self.kind == "prices":
            return "an object of instance types"
        if self.kind == "text":
            return "a string"
        noun = "an integer" if self.kind == "int" else "a number"
        bounds = []
        if self.above is not None:
            bounds.append(f"> {self.above:g}")
        elif self.minimum is not None:
            bounds.append(f">= {self.minimum:g}")
        if self.maximum is not None:
            bounds.append(f"<= {self.maximum:g}")
        return " ".join([noun, " and ".join(bounds)]).strip() + (
            " or null" if self.nullable else ""
        )


def setting(
    default: T,
    *,
    key: str,
    doc: str,
    minimum: float | None = None,
    above: float | None = None,
    maximum: float | None = None,
    choices: tuple[Any, ...] = (),
    nullable: bool = False,
    tag: str | None = None,
) -> T:
    """A dataclass field with its declaration (see :class:`Setting`); the kind follows from
    the default (and ``choices``)."""
    if isinstance(default, bool):
        kind: Kind = "bool"
    elif choices:
        kind = "choice"
    elif isinstance(default, dict):
        kind = "prices"
    elif isinstance(default, str):
        kind = "text"
    elif isinstance(default, int) and not nullable:
        kind = "int"
    else:
        kind = "number"
    meta = {"setting": Setting(key, doc, kind, minimum, above, maximum, choices, nullable, tag)}
    if isinstance(default, dict):
        empty: dict[str, Any] = dict(default)
        return field(default_factory=lambda: dict(empty), metadata=meta)  # type: ignore[return-value]
    return field(default=default, metadata=meta)


class PolicyError(ValueError):
    """A configuration value that cannot be used; the message names the key. ``setting`` is
    the declaration it broke (None for a document-level problem, e.g. not JSON)."""

    def __init__(self, message: str, setting: Setting | None = None) -> None:
        super().__init__(message)
        self.setting = setting


# ---- the schema ---------------------------------------------------------------------------


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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


SECTIONS: dict[str, type[Any]] = {
    "catchup": CatchUpSettings,
    "median": MedianSettings,
    "patience": PatienceSettings,
    "divergence": DivergenceSettings,
    "gpu_idle": GpuIdleSettings,
    "runtime": RuntimeSettings,
    "hang": HangSettings,
    "straggler": StragglerSettings,
    "throughput": ThroughputSettings,
}


@dataclass(frozen=True)
class Policy:
    mode: Mode = setting(
        "observe",
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
    catchup: CatchUpSettings = field(default_factory=CatchUpSettings)
    median: MedianSettings = field(default_factory=MedianSettings)
    patience: PatienceSettings = field(default_factory=PatienceSettings)
    divergence: DivergenceSettings = field(default_factory=DivergenceSettings)
    gpu_idle: GpuIdleSettings = field(default_factory=GpuIdleSettings)
    runtime: RuntimeSettings = field(default_factory=RuntimeSettings)
    hang: HangSettings = field(default_factory=HangSettings)
    straggler: StragglerSettings = field(default_factory=StragglerSettings)
    throughput: ThroughputSettings = field(default_factory=ThroughputSettings)
    prices: Mapping[str, Mapping[str, Any]] = setting(
        {},
        key="prices",
        doc='instance price/GPU overrides: `{"ml.p4d.24xlarge": {"gpus": 8, "usd_per_hour": '
        "37.69}}`",
    )

    # ---- construction ---------------------------------------------------------------------
    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> Policy:
        """Validate a policy document; every key is optional (defaults from the schema)."""
        if not isinstance(raw, Mapping):
            raise PolicyError(f"policy must be a JSON object, got {type(raw).__name__}")
        policy: Policy = _parse(cls, raw, "")
        return policy

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
        switch = environ.get(ENV_STOPS_DISABLED, "").strip().lower()
        if switch not in ("", "true", "false"):
            raise PolicyError(f"{ENV_STOPS_DISABLED} must be 'true' or 'false', got {switch!r}")
        if switch == "true":
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

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in SECTIONS:
                out[f.name] = {s.name: getattr(value, s.name) for s in fields(value)}
            elif f.name == "prices":
                out[f.name] = {k: dict(v) for k, v in value.items()}
            else:
                out[f.name] = value
        return out

    def catalog(self) -> InstanceCatalog:
        return InstanceCatalog(self.prices)

    def with_sections(self, sections: Mapping[str, Mapping[str, Any]]) -> Policy:
        """This policy with ``sections`` (section -> {field: value}: a group's policy) laid
        over it, validated by the schema; raises :class:`PolicyError` naming the bad key."""
        unknown = sorted(set(sections) - set(SECTIONS))
        if unknown:
            raise PolicyError(f"unknown section {unknown[0]} (allowed: {', '.join(SECTIONS)})")
        raw = self.to_dict()
        for name, values in sections.items():
            if not isinstance(values, Mapping):
                raise PolicyError(f"{name} must be an object, got {values!r}")
            raw[name] = {**raw[name], **values}
        return Policy.from_mapping(raw)


def walk(cls: type[Any] = Policy, prefix: str = "") -> Iterator[tuple[Setting, Any]]:
    """Every declared setting of the schema with its default, in declaration order (what
    ``infra`` derives the context keys, ``cdk.json`` and the README table from)."""
    for f in fields(cls):
        if f.name in SECTIONS and cls is Policy:
            yield from walk(SECTIONS[f.name], f"{f.name}.")
            continue
        declared = _declared(f)
        yield replace(declared, path=prefix + f.name), _default(f)


def _declared(f: Field[Any]) -> Setting:
    declared = f.metadata.get("setting")
    assert isinstance(declared, Setting), f"{f.name} is not declared with setting()"
    return declared


def _default(f: Field[Any]) -> Any:
    if f.default is not MISSING:
        return f.default
    assert f.default_factory is not MISSING
    return f.default_factory()


# ---- the validator --------------------------------------------------------------------------


def _parse(cls: type[Any], raw: Mapping[str, Any], prefix: str) -> Any:
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise PolicyError(
            f"unknown key {prefix}{unknown[0]} (allowed: {', '.join(sorted(names))})",
            _unknown_setting(cls, prefix),
        )
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in raw:
            continue
        if cls is Policy and f.name in SECTIONS:
            section = raw[f.name]
            if not isinstance(section, Mapping):
                raise PolicyError(f"{f.name} must be an object, got {section!r}")
            values[f.name] = _parse(SECTIONS[f.name], section, f"{f.name}.")
        else:
            declared = replace(_declared(f), path=prefix + f.name)
            values[f.name] = check(declared, raw[f.name])
    return cls(**values)


def _unknown_setting(cls: type[Any], prefix: str) -> Setting | None:
    """An unknown key inside a section or prices is blamed on the first setting there."""
    if prefix:
        f = fields(cls)[0]
        return replace(_declared(f), path=prefix + f.name)
    return None


def check(declared: Setting, value: Any) -> Any:
    """``value`` if it satisfies ``declared`` (normalized: ints for int settings, floats for
    numbers), else :class:`PolicyError` naming the setting's path."""
    path = declared.path or declared.key

    def bad() -> PolicyError:
        return PolicyError(f"{path} must be {declared.describe()}, got {value!r}", declared)

    if value is None:
        if declared.nullable:
            return None
        raise bad()
    if declared.kind == "bool":
        if not isinstance(value, bool):
            raise bad()
        return value
    if declared.kind == "choice":
        if value not in declared.choices or isinstance(value, bool):
            raise bad()
        return value
    if declared.kind == "text":
        if not isinstance(value, str):
            raise bad()
        return value
    if declared.kind == "prices":
        return _prices(declared, value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise bad()
    if declared.kind == "int":
        if isinstance(value, float):
            if not value.is_integer():
                raise bad()
            value = int(value)
    else:
        value = float(value)
    if declared.minimum is not None and value < declared.minimum:
        raise bad()
    if declared.above is not None and value <= declared.above:
        raise bad()
    if declared.maximum is not None and value > declared.maximum:
        raise bad()
    return value


def _prices(declared: Setting, raw: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(raw, Mapping):
        raise PolicyError(f"prices must be an object of instance types, got {raw!r}", declared)
    out: dict[str, dict[str, Any]] = {}
    for name, spec in raw.items():
        if not isinstance(spec, Mapping):
            raise PolicyError(
                f"prices.{name} must be an object with gpus and/or usd_per_hour", declared
            )
        extra = sorted(set(spec) - {"gpus", "usd_per_hour"})
        if extra:
            raise PolicyError(
                f"unknown key prices.{name}.{extra[0]} (allowed: gpus, usd_per_hour)", declared
            )
        out[str(name)] = dict(spec)
    try:
        InstanceCatalog(out)
    except ValueError as exc:
        raise PolicyError(str(exc), declared) from exc
    return out


# ---- per-job settings from tags --------------------------------------------------------------

# tag -> (section, field, declaration): the rule overrides a team can set on one job
TAG_OVERRIDES: dict[str, tuple[str, str, Setting]] = {
    s.tag: (s.path.split(".")[0], s.path.split(".")[1], s) for s, _ in walk() if s.tag is not None
}


@dataclass(frozen=True)
class JobSettings:
    """What the tags of one opted-in job say, resolved against the deployed policy. The
    rules are built here once, for the evaluator and the replay alike."""

    group: str
    objective: str | None
    direction: Direction
    mode: Mode
    policy: Policy
    throughput_metric: str | None = None  # trainguard:throughput: its samples/s metric
    protected: bool = False  # trainguard:protect=true: reported, never stopped
    paused: str | None = None  # why the runtime controls hold every stop (trainguard pause)

    @property
    def hold(self) -> str | None:
        """Why this job's stops become reports although it is in enforce mode, in a word or
        two for the subject line (None: they do not): the deploy-time kill switch, a runtime
        pause (``paused`` says who and why), or the job's protect tag."""
        if self.policy.stops_disabled:
            return "stops disabled"
        if self.paused is not None:
            return "paused"
        return "protected" if self.protected else None

    @property
    def enforcing(self) -> bool:
        return self.mode == "enforce" and self.hold is None

    @cached_property
    def rules(self) -> ObjectiveRules:
        """The enabled objective rules for this job (walked in ``core.engine.ORDER``)."""
        p = self.policy
        return ObjectiveRules(
            catchup=(
                CatchUpRule(
                    direction=self.direction,
                    min_completed=p.catchup.min_completed,
                    noise_multiple=p.catchup.noise_multiple,
                    consecutive=p.catchup.consecutive,
                )
                if p.catchup.enabled
                else None
            ),
            median=(
                MedianStoppingRule(
                    direction=self.direction,
                    min_completed=p.median.min_completed,
                    grace=p.median.grace,
                    average=p.median.average,
                )
                if p.median.enabled
                else None
            ),
            patience=(
                PatienceRule(
                    direction=self.direction,
                    patience=p.patience.patience,
                    min_delta=p.patience.min_delta,
                )
                if p.patience.enabled
                else None
            ),
            divergence=(
                DivergenceRule(
                    direction=self.direction,
                    explode_factor=p.divergence.explode_factor,
                    silence_minutes=p.divergence.silence_minutes,
                )
                if p.divergence.enabled
                else None
            ),
        )

    @cached_property
    def gpu_idle(self) -> GpuIdleRule:
        return gpu_idle_rule(self.policy)

    @cached_property
    def hang(self) -> HangRule:
        h = self.policy.hang
        return HangRule(
            floor_minutes=h.floor_minutes,
            gap_multiple=h.gap_multiple,
            window_minutes=h.window_minutes,
            flat_range_pct=h.flat_range_pct,
            idle_pct=h.idle_pct,
            pinned_pct=h.pinned_pct,
            stop_after_minutes=h.stop_after_minutes,
        )

    @cached_property
    def straggler(self) -> StragglerRule:
        st = self.policy.straggler
        return StragglerRule(
            margin_pct=st.margin_pct, window_minutes=st.window_minutes, busy_pct=st.busy_pct
        )

    @cached_property
    def throughput(self) -> ThroughputRule:
        t = self.policy.throughput
        return ThroughputRule(fraction=t.fraction, drop=t.drop, warmup_minutes=t.warmup_minutes)

    @cached_property
    def runtime_guard(self) -> RuntimeGuard:
        r = self.policy.runtime
        return RuntimeGuard(
            max_runtime_cap_hours=r.max_runtime_cap_hours,
            duration_factor=r.duration_factor,
            stall_minutes=r.stall_minutes,
        )


def gpu_idle_rule(policy: Policy) -> GpuIdleRule:
    """The GPU-idle rule of a policy (for jobs without settings: not opted in)."""
    g = policy.gpu_idle
    return GpuIdleRule(
        threshold_pct=g.threshold_pct,
        window_minutes=g.window_minutes,
        warmup_minutes=g.warmup_minutes,
        stop_after_minutes=g.stop_after_minutes,
    )


def normalize_tags(raw: object) -> dict[str, str]:
    """Tags as a map or as a list of ``{"Key": ..., "Value": ...}`` (both shapes occur)."""
    if raw is None:
        return {}
    if isinstance(raw, Mapping):
        return {str(k): str(v) for k, v in raw.items()}
    if isinstance(raw, list):
        out = {}
        for item in raw:
            if isinstance(item, Mapping) and "Key" in item:
                out[str(item["Key"])] = str(item.get("Value", ""))
        return out
    raise PolicyError(f"Tags must be a map or a list of Key/Value pairs, got {type(raw).__name__}")


def is_opted_in(tags: Mapping[str, str]) -> bool:
    return bool(tags.get(TAG_GROUP, "").strip())


def job_settings(tags: Mapping[str, str], policy: Policy) -> JobSettings:
    """Resolve an opted-in job's tags; raises :class:`PolicyError` naming the bad tag."""
    group = tags.get(TAG_GROUP, "").strip()
    if not group:
        raise PolicyError(f"{TAG_GROUP} is missing: the job is not opted in")
    direction = tags.get(TAG_DIRECTION, "minimize").strip().lower()
    if direction not in DIRECTIONS:
        raise PolicyError(f"{TAG_DIRECTION} must be 'minimize' or 'maximize', got {direction!r}")
    mode = tags.get(TAG_MODE, policy.mode).strip().lower()
    if mode not in MODES:
        raise PolicyError(f"{TAG_MODE} must be 'observe' or 'enforce', got {mode!r}")
    overrides: dict[str, dict[str, Any]] = {}
    for tag, (section, name, declared) in TAG_OVERRIDES.items():
        if tag in tags:
            value = _parse_tag_number(tag, tags[tag])
            try:
                overrides.setdefault(section, {})[name] = check(declared, value)
            except PolicyError as exc:
                raise PolicyError(f"{tag}={tags[tag]!r}: {exc}", declared) from exc
    for section, values in overrides.items():
        if section == "patience":
            values["enabled"] = True  # asking for patience on a job turns the rule on
        policy = replace(policy, **{section: replace(getattr(policy, section), **values)})
    objective = tags.get(TAG_OBJECTIVE, "").strip() or None
    throughput = tags.get(TAG_THROUGHPUT, "").strip() or None
    return JobSettings(group, objective, direction, mode, policy, throughput, is_protected(tags))


def is_protected(tags: Mapping[str, str]) -> bool:
    """``trainguard:protect``: "true" or "false" (any case); anything else is refused, since
    a typo must not leave a job its owner meant to protect open to a stop."""
    raw = tags.get(TAG_PROTECT, "false").strip().lower()
    if raw not in ("true", "false"):
        raise PolicyError(f"{TAG_PROTECT} must be 'true' or 'false', got {raw!r}")
    return raw == "true"


def settings_for(job: Any, policy: Policy) -> JobSettings | None:
    """The settings of a registered job (a ``JobRecord``): None when it is not opted in or
    its tags are bad (that was reported when it registered)."""
    if not job.opted_in:
        return None
    try:
        return job_settings(job.tags, policy)
    except PolicyError:
        return None


def _parse_tag_number(tag: str, value: str) -> float | int:
    try:
        number = float(value)
    except ValueError:
        raise PolicyError(f"{tag} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise PolicyError(f"{tag} must be finite, got {value!r}")
    return int(number) if number.is_integer() else number
