"""The health rules' episodes: one alert per episode, kept open on the run until it ends.

An episode is keyed by its rule and, for a per-host rule, the host: :class:`EpisodeKey`. The
run's item stores the key as text (``hung``, ``straggler:<host>``, ``throughput``);
:meth:`EpisodeKey.parse` reads it back, ``str(key)`` writes it. A GPU-idle episode
(:func:`gpu_idle_key`) keeps its own item per host (``EPISODE#<host>``, read by
:meth:`IdleEpisode.from_item`) mirrored on the run's ``idle_hosts`` map (host -> opened at,
read by :func:`idle_episodes`): its host's alarm opens and closes it.

Every episode rule (hung job, straggler host, throughput, GPU idle) answers in one shape,
:class:`Episodes`: the episodes it opens (each with its alert), those it closes, and a stop
when one is due. The caller keeps the open episodes on the run and sends the alerts.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from .decision import Decision
from .stored import number
from .values import frozen


class EpisodeRule(StrEnum):
    HUNG = "hung"
    STRAGGLER = "straggler"
    THROUGHPUT = "throughput"
    GPU_IDLE = "gpu_idle"  # its own items, not the run's ``episodes`` map (module doc)


@frozen(order=True)
class EpisodeKey:
    """One open health episode of a run: its rule and (per-host rules) its host."""

    rule: EpisodeRule
    host: str | None = None

    def __str__(self) -> str:
        return ":".join(self.parts())

    def parts(self) -> tuple[str, ...]:
        """The rule, then the host (per-host rules): what the stored text and the once-only
        keys are made of."""
        return (self.rule.value,) if self.host is None else (self.rule.value, self.host)

    def alert(self, at: float) -> str:
        """The once-only key of the alert this episode opened at ``at`` (epoch s)."""
        return f"{self}:{at:.0f}"

    @classmethod
    def opened(cls, once: str) -> tuple[EpisodeKey, float] | None:
        """The episode and its time of a once-only key :meth:`alert` wrote (None: not one)."""
        text, sep, at = once.rpartition(":")
        key = cls.parse(text) if sep and at.isdigit() else None
        return None if key is None else (key, float(at))

    @classmethod
    def parse(cls, text: str) -> EpisodeKey | None:
        """The key stored as ``text``; None for a key of no known rule."""
        name, sep, host = text.partition(":")
        try:
            rule = EpisodeRule(name)
        except ValueError:
            return None
        return cls(rule, host if sep else None)


HUNG = EpisodeKey(EpisodeRule.HUNG)
THROUGHPUT = EpisodeKey(EpisodeRule.THROUGHPUT)


def straggler_key(host: str) -> EpisodeKey:
    return EpisodeKey(EpisodeRule.STRAGGLER, host)


def gpu_idle_key(host: str) -> EpisodeKey:
    return EpisodeKey(EpisodeRule.GPU_IDLE, host)


@frozen
class Opening:
    """An episode a rule opens: its alert, when what the rule saw began (epoch s, the email
    says) and the alert's once-only key (:meth:`EpisodeKey.alert`)."""

    key: EpisodeKey
    alert: Decision
    since: float
    once: str


@frozen
class Episodes:
    """An episode rule's answer at one tick (the shape every episode rule answers in)."""

    opened: tuple[Opening, ...] = ()
    closed: tuple[EpisodeKey, ...] = ()
    stop: Decision | None = None


def open_episodes(stored: dict[str, float]) -> dict[EpisodeKey, float]:
    """The run's stored episodes (text key -> opened at) by typed key; unknown keys are left
    out."""
    out: dict[EpisodeKey, float] = {}
    for text, opened in stored.items():
        key = EpisodeKey.parse(text)
        if key is not None:
            out[key] = opened
    return out


def idle_episodes(idle_hosts: Mapping[str, float]) -> dict[EpisodeKey, float]:
    """The run's open GPU-idle episodes (its ``idle_hosts``: host -> opened at) by typed key."""
    return {gpu_idle_key(host): opened for host, opened in idle_hosts.items()}


class EpisodeState(StrEnum):
    """A GPU-idle episode's state on its host's item (stored as these strings)."""

    OPEN = "open"
    CLOSED = "closed"


@frozen
class IdleEpisode:
    """A GPU-idle episode as its host's item stores it (``state``, ``opened_at``, and
    ``closed_at`` once closed)."""

    key: EpisodeKey
    state: EpisodeState
    opened_at: float
    closed_at: float | None = None

    @property
    def open(self) -> bool:
        return self.state is EpisodeState.OPEN

    @classmethod
    def from_item(cls, host: str, item: Mapping[str, object] | None) -> IdleEpisode | None:
        """The episode stored as ``item`` (None: no item, or not one of a known state)."""
        if item is None:
            return None
        try:
            state = EpisodeState(str(item.get("state")))
            opened = number(item.get("opened_at"))
            closed_at = number(item.get("closed_at"))
        except (TypeError, ValueError):
            return None
        return None if opened is None else cls(gpu_idle_key(host), state, opened, closed_at)
