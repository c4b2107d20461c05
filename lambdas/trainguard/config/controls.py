"""The runtime controls' values: a pause (every stop becomes a report), the global mode and
per-group overrides, and revival on new evidence switched on or off, set with ``trainguard
pause | resume | mode | revive-auto`` and read by the functions at
run time (:func:`trainguard.logic.controls.read_controls`), so that acting on them needs no
deploy. Each item's JSON ``value`` is declared and parsed with the same schema engine as the
policy (:mod:`.schema`); how they take part in a job's settings is :mod:`.resolve`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import field, fields

from ..constants import CONTROL_GLOBAL_SK, CONTROL_GROUP_PREFIX
from ..core.values import frozen
from .policy import MODES, Mode
from .schema import PolicyError, parse, setting


class ControlsError(PolicyError):
    """A control item that cannot be used; the message names it."""


@frozen
class Control:
    """One control item: a pause and/or a mode, with who set it, when and why."""

    paused: bool = setting(False, key="paused", doc="every stop is held (a report instead)")
    mode: Mode | None = setting(
        None, key="mode", choices=MODES, nullable=True, doc="the runtime mode (null: none)"
    )
    revive_auto: bool | None = setting(
        None,
        key="revive_auto",
        nullable=True,
        kind="bool",
        doc="revive when the evidence changes, over the policy's reviveAuto (null: the policy's)",
    )
    reason: str = setting("", key="reason", doc="why it was set")
    by: str = setting("", key="by", doc="who set it")
    at: str = setting("", key="at", doc="when it was set (ISO-8601 UTC)")

    def to_json(self) -> str:
        value = {f: getattr(self, f) for f in FIELDS}
        if self.revive_auto is None:  # unset: the items written before the switch existed
            del value["revive_auto"]
        return json.dumps(value, sort_keys=True)

    def pause_text(self, scope: str) -> str:
        """How a held stop names this pause, e.g. ``paused by ana: GPU quota review``."""
        who = f" by {self.by}" if self.by else ""
        why = f": {self.reason}" if self.reason else ""
        return f"{scope}paused{who}{why}"


FIELDS = tuple(f.name for f in fields(Control))


@frozen
class Controls:
    """Every control in force; ``error``: why they could not be read (then all stops held)."""

    global_: Control = field(default_factory=Control)
    groups: Mapping[str, Control] = field(default_factory=dict)
    error: str | None = None

    @classmethod
    def unreadable(cls, error: str) -> Controls:
        return cls(Control(paused=True, reason="the runtime controls cannot be read"), {}, error)

    def mode(self, group: str) -> Mode | None:
        """The runtime mode over ``group``'s policy: the group's, else the global one (None:
        no runtime mode; the deployed or calibrated policy's)."""
        group_control = self.groups.get(group)
        if group_control is not None and group_control.mode is not None:
            return group_control.mode
        return self.global_.mode

    def revive_auto(self, group: str) -> bool | None:
        """Revival on new evidence switched on or off at run time for ``group``: the group's
        control, else the global one (None: the policy's ``revive.auto``)."""
        group_control = self.groups.get(group)
        if group_control is not None and group_control.revive_auto is not None:
            return group_control.revive_auto
        return self.global_.revive_auto

    def pause(self, group: str) -> str | None:
        """Why stops of ``group``'s jobs are held by a pause (None: they are not)."""
        if self.global_.paused:
            return self.global_.pause_text("")
        group_control = self.groups.get(group)
        if group_control is not None and group_control.paused:
            return group_control.pause_text(f"group {group} ")
        return None

    def mode_source(self, group: str) -> str:
        """Where a job without a mode tag gets its mode: ``group control``, ``global
        control`` or ``deploy-time``."""
        if self.groups.get(group, Control()).mode is not None:
            return "group control"
        return "global control" if self.global_.mode is not None else "deploy-time"

    def summary(self) -> dict[str, object]:
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
    try:
        return parse(Control, value, what=f"control {name}: ")
    except PolicyError as exc:
        raise ControlsError(str(exc), exc.setting) from None


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
