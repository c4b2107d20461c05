"""A job's ``trainguard:*`` tags: opting in, its group, objective and direction, its mode, its
protection, and the rule settings a team may refine for one job (each declared with the
setting it overrides: ``setting(..., tag=...)``, checked by the same engine).

:func:`job_settings` stops at the first bad tag (the evaluator cannot judge the job);
:func:`tag_problems` reports every bad tag at once, and every key that is near a trainguard
key without being one (``TrainGuard:Group``, ``trainguard:objetive``: ignored, silently, by
everything else), each with its fix (the CONFIG notice, ``trainguard check``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Literal

from ..constants import (
    TAG_DIRECTION,
    TAG_GROUP,
    TAG_MODE,
    TAG_OBJECTIVE,
    TAG_PREFIX,
    TAG_PROTECT,
    TAG_RETRY,
    TAG_RETRY_ATTEMPT,
    TAG_RETRY_OF,
    TAG_THROUGHPUT,
)
from ..core.curves import DIRECTIONS, Direction
from ..core.values import frozen
from .policy import MODES, Mode, Policy
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
    direction = _direction(tags)
    mode = _mode(tags, policy.mode)
    overrides: dict[str, dict[str, object]] = {}
    for tag, (section, name, _) in TAG_OVERRIDES.items():
        if tag in tags:
            overrides.setdefault(section, {})[name] = _override(tag, tags[tag])
    for section, values in overrides.items():
        if section == "patience":
            values["enabled"] = True  # asking for patience on a job turns the rule on
        policy = replace(policy, **{section: replace(getattr(policy, section), **values)})
    objective = tags.get(TAG_OBJECTIVE, "").strip() or None
    throughput = tags.get(TAG_THROUGHPUT, "").strip() or None
    return JobSettings(group, objective, direction, mode, policy, throughput, is_protected(tags))


# ---- one tag's value: what job_settings reads, and what tag_problems reports -------------------
def _direction(tags: Mapping[str, str]) -> Direction:
    direction = tags.get(TAG_DIRECTION, "minimize").strip().lower()
    if direction not in DIRECTIONS:
        raise PolicyError(f"{TAG_DIRECTION} must be 'minimize' or 'maximize', got {direction!r}")
    return Direction(direction)


def _mode(tags: Mapping[str, str], default: Mode) -> Mode:
    mode = tags.get(TAG_MODE, default).strip().lower()
    if mode not in MODES:
        raise PolicyError(f"{TAG_MODE} must be 'observe' or 'enforce', got {mode!r}")
    return Mode(mode)


def _override(tag: str, raw: str) -> object:
    """A rule setting's tag value, checked by its declaration."""
    declared = TAG_OVERRIDES[tag][2]
    value = number(tag, raw)
    try:
        return check(declared, value)
    except PolicyError as exc:
        raise PolicyError(f"{tag}={raw!r}: {exc}", declared) from exc


Reader = Callable[[Mapping[str, str]], object]  # reads one tag of the tags; PolicyError if bad


def _not_empty(tag: str, what: str) -> Reader:
    def read(tags: Mapping[str, str]) -> None:
        if not tags[tag].strip():
            raise PolicyError(f"{tag} is empty: {what}")

    return read


ProblemKind = Literal["value", "near-miss", "unknown"]


@frozen
class TagProblem:
    """One bad ``trainguard:*`` tag, or a key near one: what is wrong, and the fix."""

    key: str
    value: str
    kind: ProblemKind  # a bad value; a key near a trainguard key; an unknown trainguard key
    problem: str  # what is wrong (a bad value: the words job_settings raises)
    fix: str  # what to set instead

    def __str__(self) -> str:
        return f"{self.problem} (fix: {self.fix})"


def _either(tag: str, *values: str) -> str:
    return " or ".join(f"{tag}={v}" for v in values)


# tag -> (reads the tags, raising PolicyError on a bad value; the fix)
_VALUES: dict[str, tuple[Reader, str]] = {
    TAG_GROUP: (
        _not_empty(TAG_GROUP, "the job is not opted in"),
        f"{TAG_GROUP}=<the job's group>, or no {TAG_GROUP} tag at all",
    ),
    TAG_OBJECTIVE: (
        _not_empty(TAG_OBJECTIVE, "no objective rule can judge the job"),
        f"{TAG_OBJECTIVE}=<a MetricDefinitions name of the job>",
    ),
    TAG_THROUGHPUT: (
        _not_empty(TAG_THROUGHPUT, "the throughput rule has no metric"),
        f"{TAG_THROUGHPUT}=<its samples/s MetricDefinitions name>, or no tag",
    ),
    TAG_DIRECTION: (_direction, _either(TAG_DIRECTION, "minimize", "maximize")),
    TAG_MODE: (lambda tags: _mode(tags, Mode.OBSERVE), _either(TAG_MODE, "observe", "enforce")),
    TAG_PROTECT: (is_protected, _either(TAG_PROTECT, "true", "false")),
}
# the capacity retry's tags: known (their values are trainguard.logic.retry's to check)
_RETRY_KEYS = (TAG_RETRY, TAG_RETRY_ATTEMPT, TAG_RETRY_OF)
KNOWN_KEYS: tuple[str, ...] = (*_VALUES, *TAG_OVERRIDES, *_RETRY_KEYS)
NEAR_MISS_DISTANCE = 2  # edits (insert, delete, substitute, swap two neighbours), any case


def tag_problems(tags: Mapping[str, str]) -> list[TagProblem]:
    """Every bad ``trainguard:*`` tag value and every key near a trainguard key (in another
    case, a typo, an unknown ``trainguard:`` key), in the tags' order, each with its fix.
    Pure; no problem at all is an empty list (a job without trainguard tags has none)."""
    out: list[TagProblem] = []
    for key, value in tags.items():
        if key in _VALUES:
            read, fix = _VALUES[key]
            try:
                read(tags)
            except PolicyError as exc:
                out.append(TagProblem(key, value, "value", str(exc), fix))
        elif key in TAG_OVERRIDES:
            try:
                _override(key, value)
            except PolicyError as exc:
                declared = TAG_OVERRIDES[key][2]
                out.append(
                    TagProblem(key, value, "value", str(exc), f"{key}=<{declared.describe()}>")
                )
        elif key not in _RETRY_KEYS:
            problem = _key_problem(key, value)
            if problem is not None:
                out.append(problem)
    return out


def _key_problem(key: str, value: str) -> TagProblem | None:
    """A key that is no trainguard key: a near miss of one (its fix names it), an unknown
    ``trainguard:`` key, or None (a tag of someone else's)."""
    folded = key.strip().casefold()
    near = [k for k in KNOWN_KEYS if abs(len(k) - len(folded)) <= NEAR_MISS_DISTANCE]
    nearest = min(near, key=lambda known: distance(folded, known), default="")
    if nearest and distance(folded, nearest) <= NEAR_MISS_DISTANCE:
        why = "keys are lower case" if folded == nearest else f"a typo of {nearest}?"
        return TagProblem(
            key,
            value,
            "near-miss",
            f"{key} is not a trainguard key ({why}): it is ignored",
            f"rename the tag {nearest}",
        )
    if folded.startswith(TAG_PREFIX):
        return TagProblem(
            key,
            value,
            "unknown",
            f"{key} is not a trainguard key: it is ignored",
            "one of " + ", ".join(KNOWN_KEYS),
        )
    return None


def distance(a: str, b: str) -> int:
    """The edits from ``a`` to ``b``: inserts, deletes, substitutions and swaps of two
    neighbours (the optimal string alignment distance)."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                row[j] = min(row[j], previous2[j - 2] + 1)
        previous2, previous = previous, row
    return previous[-1]
