"""A job's ``trainguard:*`` tags: opting in, its group, objective and direction, its mode, its
protection, and the rule settings a team may refine for one job (each declared with the
setting it overrides: ``setting(..., tag=...)``, checked by the same engine).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ..constants import (
    TAG_DIRECTION,
    TAG_GROUP,
    TAG_MODE,
    TAG_OBJECTIVE,
    TAG_PROTECT,
    TAG_THROUGHPUT,
)
from ..core.curves import DIRECTIONS
from .policy import MODES, Policy
from .schema import PolicyError, Setting, check, number, walk
from .settings import JobSettings

# tag -> (section, field, declaration): the rule overrides a team can set on one job
TAG_OVERRIDES: dict[str, tuple[str, str, Setting]] = {
    s.tag: (s.path.split(".")[0], s.path.split(".")[1], s)
    for s, _ in walk(Policy)
    if s.tag is not None
}


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


def group_of(tags: Mapping[str, str]) -> str:
    """The job's group (``trainguard:group``; empty: not opted in)."""
    return tags.get(TAG_GROUP, "").strip()


def is_opted_in(tags: Mapping[str, str]) -> bool:
    return bool(group_of(tags))


def is_protected(tags: Mapping[str, str]) -> bool:
    """``trainguard:protect``: "true" or "false" (any case); anything else is refused, since
    a typo must not leave a job its owner meant to protect open to a stop."""
    raw = tags.get(TAG_PROTECT, "false").strip().lower()
    if raw not in ("true", "false"):
        raise PolicyError(f"{TAG_PROTECT} must be 'true' or 'false', got {raw!r}")
    return raw == "true"


def job_settings(tags: Mapping[str, str], policy: Policy) -> JobSettings:
    """An opted-in job's tags over ``policy`` (the policy in force for its group: callers go
    through :func:`.resolve.resolve_settings`); raises :class:`PolicyError` naming the bad tag."""
    group = group_of(tags)
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
            value = number(tag, tags[tag])
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
