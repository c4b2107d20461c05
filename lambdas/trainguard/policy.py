"""The policy: one typed configuration for the Lambdas, the replay and the local run.

Parsed once from a JSON document (deploy context -> ``TRAINGUARD_POLICY`` environment variable,
or a ``--policy`` file) and refined per job by its tags. A bad value raises
:class:`PolicyError` naming the key, e.g. ``median.min_completed must be an integer >= 1``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from .constants import (
    ENV_POLICY,
    ENV_STOPS_DISABLED,
    TAG_DIRECTION,
    TAG_GROUP,
    TAG_MODE,
    TAG_OBJECTIVE,
)
from .core.curves import DIRECTIONS, Direction
from .core.divergence import DivergenceRule
from .core.gpu_idle import GpuIdleRule
from .core.instances import InstanceCatalog
from .core.median import MedianStoppingRule
from .core.patience import PatienceRule
from .core.runtime_guard import RuntimeGuard

Mode = Literal["observe", "enforce"]
MODES: tuple[Mode, ...] = ("observe", "enforce")
StepUnit = Literal["minute", "report"]


class PolicyError(ValueError):
    """A configuration value that cannot be used; the message names the key."""


@dataclass(frozen=True)
class MedianSettings:
    enabled: bool = True
    min_completed: int = 3
    grace: float = 0.0


@dataclass(frozen=True)
class PatienceSettings:
    enabled: bool = False
    patience: int = 5
    min_delta: float = 0.0


@dataclass(frozen=True)
class DivergenceSettings:
    enabled: bool = True
    explode_factor: float = 10.0
    silence_minutes: float = 10.0


@dataclass(frozen=True)
class GpuIdleSettings:
    enabled: bool = True
    threshold_pct: float = 10.0
    window_minutes: float = 15.0
    warmup_minutes: float = 10.0
    stop_after_minutes: float | None = None  # enforce mode only; None never stops for idleness


@dataclass(frozen=True)
class RuntimeSettings:
    enabled: bool = True
    max_runtime_cap_hours: float = 72.0
    duration_factor: float = 3.0
    stall_minutes: float = 30.0


@dataclass(frozen=True)
class Policy:
    mode: Mode = "observe"
    tick_minutes: int = 1
    ingestion_lag_minutes: float = 0.0
    step_unit: StepUnit = "minute"
    stops_disabled: bool = False  # the global switch: every stop becomes a report
    median: MedianSettings = field(default_factory=MedianSettings)
    patience: PatienceSettings = field(default_factory=PatienceSettings)
    divergence: DivergenceSettings = field(default_factory=DivergenceSettings)
    gpu_idle: GpuIdleSettings = field(default_factory=GpuIdleSettings)
    runtime: RuntimeSettings = field(default_factory=RuntimeSettings)
    prices: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    # ---- construction ---------------------------------------------------------------------
    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> Policy:
        if not isinstance(raw, Mapping):
            raise PolicyError(f"policy must be a JSON object, got {type(raw).__name__}")
        _reject_unknown(raw, _TOP_KEYS, "")
        policy = cls(
            mode=_choice(raw, "mode", MODES, "observe"),
            tick_minutes=_int(raw, "tick_minutes", 1, minimum=1),
            ingestion_lag_minutes=_num(raw, "ingestion_lag_minutes", 0.0, minimum=0),
            step_unit=_choice(raw, "step_unit", ("minute", "report"), "minute"),
            stops_disabled=_bool(raw, "stops_disabled", False),
            median=_section(raw, "median", MedianSettings),
            patience=_section(raw, "patience", PatienceSettings),
            divergence=_section(raw, "divergence", DivergenceSettings),
            gpu_idle=_section(raw, "gpu_idle", GpuIdleSettings),
            runtime=_section(raw, "runtime", RuntimeSettings),
            prices=_prices(raw),
        )
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def catalog(self) -> InstanceCatalog:
        return InstanceCatalog(self.prices)


# ---- per-job settings from tags --------------------------------------------------------------

# tag -> (section, field): rule overrides a team can set on one job
TAG_OVERRIDES: dict[str, tuple[str, str]] = {
    "trainguard:min-completed": ("median", "min_completed"),
    "trainguard:grace": ("median", "grace"),
    "trainguard:patience": ("patience", "patience"),
    "trainguard:min-delta": ("patience", "min_delta"),
    "trainguard:gpu-idle-threshold": ("gpu_idle", "threshold_pct"),
}


@dataclass(frozen=True)
class JobSettings:
    """What the tags of one opted-in job say, resolved against the deployed policy."""

    group: str
    objective: str | None
    direction: Direction
    mode: Mode
    policy: Policy

    @property
    def enforcing(self) -> bool:
        return self.mode == "enforce" and not self.policy.stops_disabled

    def median_rule(self) -> MedianStoppingRule:
        m = self.policy.median
        return MedianStoppingRule(self.direction, m.min_completed, m.grace)

    def patience_rule(self) -> PatienceRule:
        p = self.policy.patience
        return PatienceRule(self.direction, p.patience, p.min_delta)

    def divergence_rule(self) -> DivergenceRule:
        d = self.policy.divergence
        return DivergenceRule(self.direction, d.explode_factor, d.silence_minutes)

    def gpu_idle_rule(self) -> GpuIdleRule:
        g = self.policy.gpu_idle
        return GpuIdleRule(g.threshold_pct, g.window_minutes, g.warmup_minutes)

    def runtime_guard(self) -> RuntimeGuard:
        r = self.policy.runtime
        return RuntimeGuard(r.max_runtime_cap_hours, r.duration_factor, r.stall_minutes)


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
    sections: dict[str, dict[str, Any]] = {}
    for tag, (section, name) in TAG_OVERRIDES.items():
        if tag in tags:
            value = _parse_tag_number(tag, tags[tag])
            try:  # check the value alone first, so that the error names the tag
                _section({section: {name: value}}, section, type(getattr(policy, section)))
            except PolicyError as exc:
                raise PolicyError(f"{tag}={tags[tag]!r}: {exc}") from exc
            sections.setdefault(section, {})[name] = value
    for section, values in sections.items():
        current = asdict(getattr(policy, section))
        current.update(values)
        if section == "patience":
            current["enabled"] = True  # asking for patience on a job turns the rule on
        try:
            policy = replace(
                policy,
                **{section: _section({section: current}, section, type(getattr(policy, section)))},
            )
        except PolicyError as exc:
            raise PolicyError(f"tag override: {exc}") from exc
    objective = tags.get(TAG_OBJECTIVE, "").strip() or None
    return JobSettings(group, objective, direction, mode, policy)


def _parse_tag_number(tag: str, value: str) -> float | int:
    try:
        number = float(value)
    except ValueError:
        raise PolicyError(f"{tag} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise PolicyError(f"{tag} must be finite, got {value!r}")
    return int(number) if number.is_integer() else number


# ---- validation helpers -------------------------------------------------------------------------

_TOP_KEYS = {
    "mode",
    "tick_minutes",
    "ingestion_lag_minutes",
    "step_unit",
    "stops_disabled",
    "median",
    "patience",
    "divergence",
    "gpu_idle",
    "runtime",
    "prices",
}


def _reject_unknown(raw: Mapping[str, Any], allowed: set[str], prefix: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise PolicyError(
            f"unknown key {prefix}{unknown[0]} (allowed: {', '.join(sorted(allowed))})"
        )


def _choice(
    raw: Mapping[str, Any], key: str, choices: tuple[str, ...], default: str, prefix: str = ""
) -> Any:
    value = raw.get(key, default)
    if value not in choices:
        raise PolicyError(f"{prefix}{key} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _bool(raw: Mapping[str, Any], key: str, default: bool, prefix: str = "") -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise PolicyError(f"{prefix}{key} must be true or false, got {value!r}")
    return value


def _num(
    raw: Mapping[str, Any],
    key: str,
    default: float,
    *,
    minimum: float = 0.0,
    prefix: str = "",
    strict: bool = False,
) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise PolicyError(f"{prefix}{key} must be a number, got {value!r}")
    if value < minimum or (strict and value == minimum):
        rel = ">" if strict else ">="
        raise PolicyError(f"{prefix}{key} must be {rel} {minimum:g}, got {value!r}")
    return float(value)


def _int(raw: Mapping[str, Any], key: str, default: int, *, minimum: int, prefix: str = "") -> int:
    value = raw.get(key, default)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise PolicyError(f"{prefix}{key} must be an integer >= {minimum}, got {value!r}")
    return value


# per section: field -> (kind, minimum); kinds: bool, int, num, num>0, num?
_SECTION_FIELDS: dict[str, dict[str, tuple[str, float]]] = {
    "median": {"enabled": ("bool", 0), "min_completed": ("int", 1), "grace": ("num", 0)},
    "patience": {"enabled": ("bool", 0), "patience": ("int", 1), "min_delta": ("num", 0)},
    "divergence": {
        "enabled": ("bool", 0),
        "explode_factor": ("num>", 1),
        "silence_minutes": ("num>", 0),
    },
    "gpu_idle": {
        "enabled": ("bool", 0),
        "threshold_pct": ("num>", 0),
        "window_minutes": ("num>", 0),
        "warmup_minutes": ("num", 0),
        "stop_after_minutes": ("num?", 0),
    },
    "runtime": {
        "enabled": ("bool", 0),
        "max_runtime_cap_hours": ("num>", 0),
        "duration_factor": ("num>", 1),
        "stall_minutes": ("num>", 0),
    },
}


def _section(raw: Mapping[str, Any], name: str, cls: type[Any]) -> Any:
    values = raw.get(name, {})
    if not isinstance(values, Mapping):
        raise PolicyError(f"{name} must be an object, got {values!r}")
    fields = _SECTION_FIELDS[name]
    _reject_unknown(values, set(fields), f"{name}.")
    defaults = cls()
    parsed: dict[str, Any] = {}
    prefix = f"{name}."
    for key, (kind, minimum) in fields.items():
        default = getattr(defaults, key)
        if kind == "bool":
            parsed[key] = _bool(values, key, default, prefix)
        elif kind == "int":
            parsed[key] = _int(values, key, default, minimum=int(minimum), prefix=prefix)
        elif kind == "num?":
            parsed[key] = (
                None
                if values.get(key) is None
                else _num(values, key, 0, minimum=minimum, prefix=prefix, strict=True)
            )
        else:
            parsed[key] = _num(
                values, key, default, minimum=minimum, prefix=prefix, strict=kind == "num>"
            )
    return cls(**parsed)


def _prices(raw: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    prices = raw.get("prices", {})
    if not isinstance(prices, Mapping):
        raise PolicyError(f"prices must be an object of instance types, got {prices!r}")
    out = {}
    for name, spec in prices.items():
        if not isinstance(spec, Mapping):
            raise PolicyError(f"prices.{name} must be an object with gpus and/or usd_per_hour")
        _reject_unknown(spec, {"gpus", "usd_per_hour"}, f"prices.{name}.")
        out[str(name)] = dict(spec)
    try:
        InstanceCatalog(out)
    except ValueError as exc:
        raise PolicyError(str(exc)) from exc
    return out
