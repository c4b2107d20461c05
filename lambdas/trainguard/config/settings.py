"""One job's settings, resolved (:func:`.resolve.resolve_settings`), and the rules built from
them once, for the evaluator, the replay, ``status`` and ``explain`` alike. Each rule's module
is imported when a job's settings first build that rule: a function that builds none (the
lifecycle's, the digest's) does not load them on its cold start.

A rule is built from its settings section by field name (:func:`build`): every setting of the
section but ``enabled`` is a parameter of the rule of the same name, so a new setting reaches
its rule without a list copied here (and a setting the rule does not take fails loudly).
"""

from __future__ import annotations

from dataclasses import Field, fields
from enum import StrEnum
from functools import cache, cached_property
from typing import TYPE_CHECKING, ClassVar, Protocol, TypeVar

from ..core.curves import Direction
from ..core.values import frozen
from .policy import Mode, Policy

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    from ..core.catchup import CatchUpRule
    from ..core.divergence import DivergenceRule
    from ..core.engine import ObjectiveRules
    from ..core.gpu_idle import GpuIdleRule
    from ..core.hang import HangRule
    from ..core.median import MedianStoppingRule
    from ..core.patience import PatienceRule
    from ..core.runtime_guard import RuntimeGuard
    from ..core.straggler import StragglerRule
    from ..core.throughput import ThroughputRule

R = TypeVar("R", bound="DataclassInstance")  # a rule: a dataclass of its parameters


class Section(Protocol):
    """A rule's settings section: a settings dataclass with its on/off switch."""

    __dataclass_fields__: ClassVar[dict[str, Field[object]]]

    @property
    def enabled(self) -> bool: ...


def build(rule: type[R], section: DataclassInstance, **given: object) -> R:
    """``rule`` with the values of ``section`` (a settings dataclass) as its parameters of the
    same names (``enabled`` is the section's switch, not a parameter), plus ``given``."""
    values = {name: getattr(section, name) for name in _parameters(rule, type(section))}
    return rule(**values, **given)


@cache  # read from the two dataclasses' fields once per pair of classes, not at every tick
def _parameters(rule: type, section: type) -> tuple[str, ...]:
    """The settings of ``section`` that :func:`build` passes to ``rule``; a setting the rule
    does not take fails loudly (on every build: a failure is not cached)."""
    params = {f.name for f in fields(rule) if f.init}
    names = tuple(f.name for f in fields(section) if f.name != "enabled")
    unknown = sorted(set(names) - params)
    assert not unknown, f"{rule.__name__} takes no parameter {unknown[0]}"
    return names


def enabled(rule: type[R], section: Section, **given: object) -> R | None:
    """The rule of an enabled section (:func:`build`), None when the section is off."""
    return build(rule, section, **given) if section.enabled else None


class Hold(StrEnum):
    """Why an enforcing job's stops become reports (:attr:`JobSettings.hold`; a ``StrEnum``:
    the words the subject line and the claim say)."""

    STOPS_DISABLED = "stops disabled"  # the deploy-time kill switch
    PAUSED = "paused"  # a runtime pause (JobSettings.paused says who and why)
    PROTECTED = "protected"  # the job's protect tag


@frozen
class JobSettings:
    """What the tags of one opted-in job say, resolved against the policy in force for it
    (:func:`.resolve.resolve_settings`)."""

    group: str
    objective: str | None
    direction: Direction
    mode: Mode
    policy: Policy
    throughput_metric: str | None = None  # trainguard:throughput: its samples/s metric
    protected: bool = False  # trainguard:protect=true: reported, never stopped
    paused: str | None = None  # why the runtime controls hold every stop (trainguard pause)

    @property
    def hold(self) -> Hold | None:
        """Why this job's stops become reports although it is in enforce mode, in a word or
        two for the subject line (None: they do not): the deploy-time kill switch, a runtime
        pause (``paused`` says who and why), or the job's protect tag."""
        if self.policy.stops_disabled:
            return Hold.STOPS_DISABLED
        if self.paused is not None:
            return Hold.PAUSED
        return Hold.PROTECTED if self.protected else None

    @property
    def enforcing(self) -> bool:
        return self.mode == Mode.ENFORCE and self.hold is None

    @cached_property
    def rules(self) -> ObjectiveRules:
        """The enabled objective rules (divergence, median, catch-up, patience) for this job."""
        ObjectiveRules, CatchUpRule, MedianStoppingRule, PatienceRule, DivergenceRule = (
            _objective_rule_types()
        )
        p, direction = self.policy, self.direction
        return ObjectiveRules(
            catchup=enabled(CatchUpRule, p.catchup, direction=direction),
            median=enabled(MedianStoppingRule, p.median, direction=direction),
            patience=enabled(PatienceRule, p.patience, direction=direction),
            divergence=enabled(DivergenceRule, p.divergence, direction=direction),
        )

    @cached_property
    def gpu_idle(self) -> GpuIdleRule:
        return gpu_idle_rule(self.policy)

    @cached_property
    def hang(self) -> HangRule:
        from ..core.hang import HangRule

        return build(HangRule, self.policy.hang)

    @cached_property
    def straggler(self) -> StragglerRule:
        from ..core.straggler import StragglerRule

        return build(StragglerRule, self.policy.straggler)

    @cached_property
    def throughput(self) -> ThroughputRule:
        from ..core.throughput import ThroughputRule

        return build(ThroughputRule, self.policy.throughput)

    @cached_property
    def runtime_guard(self) -> RuntimeGuard:
        from ..core.runtime_guard import RuntimeGuard

        return build(RuntimeGuard, self.policy.runtime)


@cache  # imported on first use (the module docstring), then looked up once per job and tick
def _objective_rule_types() -> tuple[
    type[ObjectiveRules],
    type[CatchUpRule],
    type[MedianStoppingRule],
    type[PatienceRule],
    type[DivergenceRule],
]:
    from ..core.catchup import CatchUpRule
    from ..core.divergence import DivergenceRule
    from ..core.engine import ObjectiveRules
    from ..core.median import MedianStoppingRule
    from ..core.patience import PatienceRule

    return ObjectiveRules, CatchUpRule, MedianStoppingRule, PatienceRule, DivergenceRule


def gpu_idle_rule(policy: Policy) -> GpuIdleRule:
    """The GPU-idle rule of a policy (for jobs without settings: not opted in)."""
    from ..core.gpu_idle import GpuIdleRule

    return build(GpuIdleRule, policy.gpu_idle)
