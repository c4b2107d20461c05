"""Deploy-time configuration: ``cdk.json`` context (or ``-c key=value``) -> one typed model.

Every key has a default here, so an empty context deploys the documented defaults. The
policy part is validated by :meth:`trainguard.policy.Policy.from_mapping` (the same parser
the functions use at run time), and any bad value fails synth with a message that names the
context key, e.g. ``cdk.json context 'minCompleted': median.min_completed must be ...``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from trainguard import constants as c
from trainguard.policy import Policy, PolicyError


class ConfigError(ValueError):
    """A context value that cannot be deployed; the message names the context key."""


# context key -> path in the policy document, with the default (None: the policy's default)
POLICY_KEYS: dict[str, tuple[tuple[str, ...], Any]] = {
    "mode": (("mode",), "observe"),
    "tickMinutes": (("tick_minutes",), 1),
    "stopsDisabled": (("stops_disabled",), False),
    "ingestionLagMinutes": (("ingestion_lag_minutes",), 0),
    "stepUnit": (("step_unit",), "minute"),
    "medianEnabled": (("median", "enabled"), True),
    "minCompleted": (("median", "min_completed"), 3),
    "grace": (("median", "grace"), 0),
    "patienceEnabled": (("patience", "enabled"), False),
    "patience": (("patience", "patience"), 5),
    "minDelta": (("patience", "min_delta"), 0),
    "divergenceEnabled": (("divergence", "enabled"), True),
    "explodeFactor": (("divergence", "explode_factor"), 10),
    "silenceMinutes": (("divergence", "silence_minutes"), 10),
    "gpuIdleEnabled": (("gpu_idle", "enabled"), True),
    "gpuIdleThresholdPct": (("gpu_idle", "threshold_pct"), 10),
    "gpuIdleWindowMinutes": (("gpu_idle", "window_minutes"), 15),
    "gpuIdleWarmupMinutes": (("gpu_idle", "warmup_minutes"), 10),
    "gpuIdleStopAfterMinutes": (("gpu_idle", "stop_after_minutes"), None),
    "runtimeGuardEnabled": (("runtime", "enabled"), True),
    "maxRuntimeCapHours": (("runtime", "max_runtime_cap_hours"), 72),
    "durationFactor": (("runtime", "duration_factor"), 3),
    "stallMinutes": (("runtime", "stall_minutes"), 30),
    "prices": (("prices",), {}),
}

# Keys that configure the stack itself rather than the policy.
STACK_KEYS: dict[str, Any] = {
    "alertEmail": "",
    "auditTtlDays": c.DEFAULT_AUDIT_TTL_DAYS,
    "logRetentionDays": 30,
}

ALL_KEYS: dict[str, Any] = {key: default for key, (_, default) in POLICY_KEYS.items()} | STACK_KEYS

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653)
# The heartbeat alarm looks at 3 tick periods; CloudWatch caps period x periods at one day.
MAX_TICK_MINUTES = 480
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class TrainguardConfig:
    policy: Policy
    alert_email: str
    audit_ttl_days: int
    log_retention_days: int

    @property
    def tick_minutes(self) -> int:
        return self.policy.tick_minutes

    def policy_json(self) -> str:
        """The ``TRAINGUARD_POLICY`` document: compact, key-sorted, so synth is deterministic."""
        return json.dumps(self.policy.to_dict(), sort_keys=True, separators=(",", ":"))


def _coerce(value: Any) -> Any:
    """``-c key=value`` always gives strings: read them as JSON when they parse."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def load_config(get_context: Callable[[str], Any]) -> TrainguardConfig:
    """Build the configuration from a context getter (``node.try_get_context``)."""
    values = {}
    for key, default in ALL_KEYS.items():
        raw = get_context(key)
        values[key] = default if raw is None else (raw if key == "alertEmail" else _coerce(raw))
    return config_from_values(values)


def config_from_values(values: Mapping[str, Any]) -> TrainguardConfig:
    values = {**ALL_KEYS, **values}
    document: dict[str, Any] = {}
    for key, (path, _) in POLICY_KEYS.items():
        value = values[key]
        if value is None:
            continue
        target = document
        for part in path[:-1]:
            target = target.setdefault(part, {})
        target[path[-1]] = value
    try:
        policy = Policy.from_mapping(document)
    except PolicyError as exc:
        raise ConfigError(f"cdk.json context '{_context_key_for(str(exc))}': {exc}") from exc
    if policy.tick_minutes > MAX_TICK_MINUTES:
        raise ConfigError(
            f"cdk.json context 'tickMinutes': must be <= {MAX_TICK_MINUTES} (the heartbeat alarm "
            f"spans 3 ticks and CloudWatch allows one day), got {policy.tick_minutes}"
        )

    email = values["alertEmail"]
    if not isinstance(email, str) or (email.strip() and not _EMAIL.match(email.strip())):
        raise ConfigError(f"cdk.json context 'alertEmail': not an email address: {email!r}")
    return TrainguardConfig(
        policy=policy,
        alert_email=email.strip(),
        audit_ttl_days=_positive_int(values, "auditTtlDays"),
        log_retention_days=_retention(values),
    )


def _context_key_for(message: str) -> str:
    """The context key whose policy path the parser's message starts with."""
    best = ""
    for key, (path, _) in POLICY_KEYS.items():
        dotted = ".".join(path)
        if (message.startswith(dotted + " ") or message.startswith(dotted + ".")) and len(
            dotted
        ) > len(best.partition("|")[2]):
            best = f"{key}|{dotted}"
    if best:
        return best.partition("|")[0]
    for key, (path, _) in POLICY_KEYS.items():  # e.g. "unknown key prices.x.foo"
        if ".".join(path) in message:
            return key
    return "policy"


def _positive_int(values: Mapping[str, Any], key: str) -> int:
    value = values[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"cdk.json context '{key}': must be an integer >= 1, got {value!r}")
    return value


def _retention(values: Mapping[str, Any]) -> int:
    value = values["logRetentionDays"]
    if value not in LOG_RETENTION_DAYS or isinstance(value, bool):
        raise ConfigError(
            f"cdk.json context 'logRetentionDays': must be one of "
            f"{', '.join(map(str, LOG_RETENTION_DAYS))}, got {value!r}"
        )
    return int(value)
