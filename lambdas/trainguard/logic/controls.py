"""The runtime controls: a pause (every stop becomes a report), the global mode and per-group
overrides, changed with ``trainguard pause | resume | mode`` and read by the functions at run
time, so that acting on them needs no deploy.

They are items of the state table (``CONTROL`` / ``GLOBAL`` and ``CONTROL`` / ``GROUP#<g>``,
one JSON ``value`` each: :mod:`trainguard.adapters.controls` reads them with Powertools'
parameters cache, at most ``CONTROLS_MAX_AGE_S`` old). Precedence, most specific first: a
job's ``trainguard:mode`` tag, the group's runtime mode, the group's calibrated policy, the
global runtime mode, the deploy-time policy. A pause, global or of the group, beats every
mode. What cannot be read or understood fails safe: every stop is held (alerts go on) and the
reason is logged and counted in the alarmed ``ConfigErrors`` metric.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..constants import CONTROL_GLOBAL_SK, CONTROL_GROUP_PREFIX
from ..observability import logger
from ..policy import MODES, JobSettings, Policy
from ..ports import ControlReader

FIELDS = ("paused", "mode", "reason", "by", "at")


class ControlsError(ValueError):
    """A control item that cannot be used; the message names it."""


@dataclass(frozen=True)
class Control:
    """One control item: a pause and/or a mode, with who set it, when and why."""

    paused: bool = False
    mode: str | None = None  # "observe" | "enforce" | None (no override)
    reason: str = ""
    by: str = ""
    at: str = ""  # ISO-8601 UTC

    def to_json(self) -> str:
        return json.dumps({f: getattr(self, f) for f in FIELDS}, sort_keys=True)

    def pause_text(self, scope: str) -> str:
        """How a held stop names this pause, e.g. ``paused by ana: GPU quota review``."""
        who = f" by {self.by}" if self.by else ""
        why = f": {self.reason}" if self.reason else ""
        return f"{scope}paused{who}{why}"


@dataclass(frozen=True)
class Controls:
    """Every control in force; ``error``: why they could not be read (then all stops held)."""

    global_: Control = field(default_factory=Control)
    groups: Mapping[str, Control] = field(default_factory=dict)
    error: str | None = None

    @classmethod
    def unreadable(cls, error: str) -> Controls:
        return cls(Control(paused=True, reason="the runtime controls cannot be read"), {}, error)

    def policy(self, deployed: Policy) -> Policy:
        """The deployed policy under the global runtime mode."""
        mode = self.global_.mode
        return deployed if mode is None else replace(deployed, mode=mode)  # type: ignore[arg-type]

    def group_policy(self, group: str, policy: Policy) -> Policy:
        """A group's policy under the group's runtime mode."""
        mode = self.groups.get(group, Control()).mode
        return policy if mode is None else replace(policy, mode=mode)  # type: ignore[arg-type]

    def pause(self, group: str) -> str | None:
        """Why stops of ``group``'s jobs are held by a pause (None: they are not)."""
        if self.global_.paused:
            return self.global_.pause_text("")
        group_control = self.groups.get(group)
        if group_control is not None and group_control.paused:
            return group_control.pause_text(f"group {group} ")
        return None

    def settle(self, settings: JobSettings) -> JobSettings:
        """A job's settings with the pause in force for its group."""
        why = self.pause(settings.group)
        return settings if why is None else replace(settings, paused=why)

    def mode_source(self, group: str) -> str:
        """Where a job without a mode tag gets its mode: ``group control``, ``global
        control`` or ``deploy-time``."""
        if self.groups.get(group, Control()).mode is not None:
            return "group control"
        return "global control" if self.global_.mode is not None else "deploy-time"

    def summary(self) -> dict[str, Any]:
        """What is in force, for logs, ``trainguard status`` and the tick's result."""
        return {
            "global": json.loads(self.global_.to_json()),
            "groups": {g: json.loads(c.to_json()) for g, c in sorted(self.groups.items())},
            "error": self.error,
        }


def parse_control(name: str, raw: str) -> Control:
    """One item's JSON ``value``; :class:`ControlsError` naming ``name`` if unusable."""
    try:
        value = json.loads(raw)
    except (TypeError, json.JSONDecodeError) as exc:
        raise ControlsError(f"control {name}: not valid JSON ({exc})") from exc
    if not isinstance(value, Mapping):
        raise ControlsError(f"control {name}: must be a JSON object, got {value!r}")
    unknown = sorted(set(value) - set(FIELDS))
    if unknown:
        raise ControlsError(f"control {name}: unknown key {unknown[0]!r}")
    paused = value.get("paused", False)
    if not isinstance(paused, bool):
        raise ControlsError(f"control {name}: paused must be true or false, got {paused!r}")
    mode = value.get("mode")
    if mode is not None and mode not in MODES:
        raise ControlsError(f"control {name}: mode must be one of {MODES} or null, got {mode!r}")
    texts = {}
    for key in ("reason", "by", "at"):
        text = value.get(key, "")
        if not isinstance(text, str):
            raise ControlsError(f"control {name}: {key} must be a string, got {text!r}")
        texts[key] = text
    return Control(paused=paused, mode=mode, **texts)


def parse_controls(items: Mapping[str, str]) -> Controls:
    """Every control item (sort key -> JSON value) of the CONTROL partition."""
    global_ = Control()
    groups: dict[str, Control] = {}
    for name, raw in items.items():
        if name == CONTROL_GLOBAL_SK:
            global_ = parse_control(name, raw)
        elif name.startswith(CONTROL_GROUP_PREFIX) and len(name) > len(CONTROL_GROUP_PREFIX):
            groups[name[len(CONTROL_GROUP_PREFIX) :]] = parse_control(name, raw)
        else:
            raise ControlsError(f"control {name}: unknown item (GLOBAL or GROUP#<group>)")
    return Controls(global_, groups)


def read_controls(reader: ControlReader | None) -> Controls:
    """The controls in force, never an exception: unreadable or invalid ones hold every stop
    (the reason is logged here; the handler counts it in ``ConfigErrors``)."""
    if reader is None:
        return Controls()
    try:
        controls = parse_controls(reader.read())
    except Exception as exc:
        error = f"runtime controls unusable ({exc}): every stop is held"
        logger.error("unusable runtime controls", extra={"error": str(exc)})
        return Controls.unreadable(error)
    if controls.global_.paused or any(c.paused for c in controls.groups.values()):
        logger.info("stops paused", extra={"controls": controls.summary()})
    return controls
