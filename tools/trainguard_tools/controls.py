"""``trainguard pause | resume | mode``: the runtime controls, changed without a deploy.

``pause`` turns every stop into a report (all groups, or ``--group G``), ``resume`` undoes it,
``mode observe|enforce|default`` sets the global (or a group's) runtime mode. Each change is
one write of the control item and its history entry (who, when, why) in one transaction, then
one message on the alert channel; the functions see it within ``CONTROLS_MAX_AGE_S``, by the
next tick. The change stands even if the announcement fails (the command says so and exits 1).

The write is conditional on the value the change was computed from: when another change came
in between (a concurrent ``pause`` and ``mode enforce``), the control is read again and the
change applied on top of it (both stand), up to :data:`CHANGE_ATTEMPTS` times; past them the
command says the change lost the race, announces nothing and exits 1.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, replace
from typing import Any

from trainguard.adapters.controls import ControlRaceError, TableControls
from trainguard.adapters.notifier import SnsNotifier
from trainguard.config import Control, parse_control
from trainguard.constants import CONTROL_GLOBAL_SK, CONTROL_GROUP_PREFIX
from trainguard.logic import messages
from trainguard.message import Message, email_text
from trainguard.times import iso

from .stack import add_stack_arguments, caller_arn, connect, run

CHANGE_ATTEMPTS = 3  # reads and conditional writes of a control before its change is lost


class ChangeLostError(Exception):
    """Every attempt of a control change found the control changed since its read."""


@dataclass(frozen=True)
class Change:
    name: str  # GLOBAL or GROUP#<group>
    before: Control
    after: Control
    message: Message  # its announcement

    @property
    def subject(self) -> str:
        return self.message.subject

    @property
    def body(self) -> str:
        return email_text(self.message)


def change(
    controls: TableControls,
    *,
    group: str | None,
    by: str,
    reason: str,
    now: float,
    paused: bool | None = None,
    mode: str | None = "keep",
    revive_auto: bool | str | None = "keep",
) -> Change:
    """Set the pause and/or mode of the global or a group's control; return what changed.
    A control changed by someone else between the read and the write is read again and the
    change applied on top (:data:`CHANGE_ATTEMPTS` times, then :class:`ChangeLostError`)."""
    name = CONTROL_GLOBAL_SK if group is None else CONTROL_GROUP_PREFIX + group
    for _ in range(CHANGE_ATTEMPTS):
        try:
            return _change_once(controls, name, group, by, reason, now, paused, mode, revive_auto)
        except ControlRaceError:
            continue
    raise ChangeLostError(
        f"{name}: changed by someone else at each of {CHANGE_ATTEMPTS} attempts; "
        "this change is not written and not announced (run it again)"
    )


def _change_once(
    controls: TableControls,
    name: str,
    group: str | None,
    by: str,
    reason: str,
    now: float,
    paused: bool | None,
    mode: str | None,
    revive_auto: bool | str | None = "keep",
) -> Change:
    current = controls.read().get(name)
    before = Control() if current is None else parse_control(name, current)
    after = replace(before, by=by, reason=reason, at=iso(now, zulu=True))
    if paused is not None:
        after = replace(after, paused=paused)
    if mode != "keep":
        after = replace(after, mode=mode)  # type: ignore[arg-type]  # checked just below
    if revive_auto != "keep":
        after = replace(after, revive_auto=revive_auto)  # type: ignore[arg-type]  # checked below
    parse_control(name, after.to_json())  # the functions will accept what is written
    history = {
        "at": after.at,
        "control": name,
        "by": by,
        "reason": reason,
        "before": before.to_json(),
        "after": after.to_json(),
    }
    controls.write(name, after.to_json(), history, previous=current)
    message = messages.control_change(
        name,
        group,
        paused,
        after.paused,
        after.mode,
        by,
        after.at,
        reason,
        revive_auto=None if revive_auto == "keep" else after.revive_auto,
        revive_changed=revive_auto != "keep",
    )
    return Change(name, before, after, message)


def _run(args: argparse.Namespace) -> int:
    def command() -> int:
        deployed = connect(args.stack, args.region)
        controls = TableControls(deployed.client("dynamodb"), deployed.table)
        who = args.by or caller_arn(deployed.client("sts"))
        kwargs: dict[str, Any] = {}
        if args.command == "pause":
            kwargs["paused"] = True
        elif args.command == "resume":
            kwargs["paused"] = False
        elif args.command == "revive-auto":
            kwargs["revive_auto"] = {"on": True, "off": False, "default": None}[args.switch]
        else:
            kwargs["mode"] = None if args.mode == "default" else args.mode
        try:
            done = change(
                controls,
                group=args.group,
                by=who,
                reason=args.reason or "",
                now=time.time(),
                **kwargs,
            )
        except ChangeLostError as exc:
            print(f"trainguard: the change lost a race: {exc}", file=sys.stderr)
            return 1
        print(done.subject)
        print(json.dumps({"control": done.name, "after": json.loads(done.after.to_json())}))
        try:
            notifier = SnsNotifier(deployed.client("sns"), deployed.topic_arn)
            notifier.send(done.message)
        except Exception as exc:
            print(f"the change stands, but announcing it failed: {exc}", file=sys.stderr)
            return 1
        return 0

    return run(command)


def register(sub: Any) -> None:
    """``trainguard pause --reason R [--group G]``, ``resume``, ``mode observe|enforce|default``,
    ``revive-auto on|off|default``."""
    for name, help_text, description in (
        (
            "pause",
            "every stop becomes a report, from the next tick (audited, announced)",
            "Hold every stop (or one group's, --group) from the evaluator's next tick: what "
            "would have been stopped is reported (WOULD STOP (paused)) and the job runs on. "
            "No deploy; the change is audited and announced on the alert topic.",
        ),
        (
            "resume",
            "undo a pause: stops as the mode says, from the next tick",
            "Lift a pause (global, or --group): from the next tick, jobs are stopped again as "
            "their mode says. Audited and announced.",
        ),
        (
            "mode",
            "set the global (or --group) runtime mode, over the deployed one",
            "observe (report only) or enforce (stop), for every group or one (--group), over "
            "the mode the stack was deployed with; default removes the override. A job's "
            "trainguard:mode tag still wins. Audited and announced.",
        ),
        (
            "revive-auto",
            "switch revival on new evidence on or off (global or --group), over the policy",
            "on: at each completion in a group, its resumable jobs trainguard stopped that the "
            "rules would no longer stop are revived (docs/revive.md); off: never; default "
            "removes the override (the policy's reviveAuto). Never in observe mode or under a "
            "pause. Audited and announced.",
        ),
    ):
        parser = sub.add_parser(name, help=help_text, description=description)
        if name == "mode":
            parser.add_argument("mode", choices=("observe", "enforce", "default"))
        if name == "revive-auto":
            parser.add_argument("switch", choices=("on", "off", "default"))
        parser.add_argument("--group", help="only this group (default: every group)")
        parser.add_argument("--reason", required=name == "pause", help="why (audited, announced)")
        parser.add_argument("--by", help="who (default: the caller's IAM ARN)")
        add_stack_arguments(parser)
        parser.set_defaults(func=_run)
