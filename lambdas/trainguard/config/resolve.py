"""The one precedence chain of a job's settings, for the evaluator, ``trainguard status`` and
``trainguard explain`` alike (:func:`resolve_settings`). Most specific first:

1. the job's tags (``trainguard:mode``, the rule settings a tag may refine);
2. the runtime mode of the job's group, else the global runtime mode (``trainguard mode``);
3. the group's policy written by ``trainguard calibrate --apply`` (sections over the deployed
   policy; one the schema refuses is logged, and the deployed policy applies);
4. the deployed policy (``TRAINGUARD_POLICY`` and the kill switch).

A runtime pause, global or of the group, beats every mode: the job's stops are held.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from .controls import Controls
from .policy import Policy
from .schema import PolicyError
from .settings import JobSettings
from .tags import group_of, job_settings

if TYPE_CHECKING:
    from ..models import GroupPolicy, JobRecord

# (deployed, group policy item, runtime mode) -> the policy they make, keyed by identity: a
# tick reads each group's item once and resolves it for every job of the group
_IN_FORCE: dict[
    tuple[int, int, str | None, bool | None], tuple[Policy, GroupPolicy | None, Policy]
] = {}
_IN_FORCE_MAX = 1024


def resolve_settings(
    tags: Mapping[str, str],
    deployed: Policy,
    group_policy: GroupPolicy | None,
    controls: Controls,
) -> JobSettings:
    """An opted-in job's settings: its ``tags`` over its group's policy in force
    (:func:`resolve_policy`), with the pause in force for its group. Raises
    :class:`PolicyError` naming a bad tag."""
    group = group_of(tags)
    settings = job_settings(tags, resolve_policy(deployed, group_policy, group, controls))
    why = controls.pause(settings.group)
    return settings if why is None else replace(settings, paused=why)


def resolve_policy(
    deployed: Policy, group_policy: GroupPolicy | None, group: str, controls: Controls
) -> Policy:
    """A group's policy in force, before its jobs' tags: its calibrated sections over the
    deployed policy, under the group's (else the global) runtime mode and revival switch."""
    mode = controls.mode(group)
    revive_auto = controls.revive_auto(group)
    key = (id(deployed), id(group_policy), mode, revive_auto)
    hit = _IN_FORCE.get(key)
    if hit is not None and hit[0] is deployed and hit[1] is group_policy:
        return hit[2]
    policy = calibrated(deployed, group_policy)
    if mode is not None:
        policy = replace(policy, mode=mode)
    if revive_auto is not None:
        policy = replace(policy, revive=replace(policy.revive, auto=revive_auto))
    if len(_IN_FORCE) >= _IN_FORCE_MAX:
        _IN_FORCE.clear()
    _IN_FORCE[key] = (deployed, group_policy, policy)
    return policy


def calibrated(deployed: Policy, item: GroupPolicy | None) -> Policy:
    """A group's ``trainguard calibrate --apply`` sections over the deployed policy. A group
    policy the schema refuses is logged and the deployed policy applies."""
    if item is None:
        return deployed
    try:
        return deployed.with_sections(item.settings)
    except PolicyError as exc:
        from ..observability import logger  # not at import: the config package stays light

        logger.error(
            "the group's applied policy is refused: the deployed policy applies",
            extra={"group": item.group, "error": str(exc), "applied_by": item.applied_by},
        )
        return deployed


def settings_for(job: JobRecord, policy: Policy) -> JobSettings | None:
    """The settings of a registered job (a ``JobRecord``) under the deployed ``policy``: None
    when it is not opted in or its tags are bad (that was reported when it registered)."""
    if not job.opted_in:
        return None
    try:
        return job_settings(job.tags, policy)
    except PolicyError:
        return None
