"""The health rules' episodes: one alert per episode, kept open on the run until it ends.

An episode is keyed by its rule and, for a per-host rule, the host: :class:`EpisodeKey`. The
run's item stores the key as text (``hung``, ``straggler:<host>``, ``throughput``);
:meth:`EpisodeKey.parse` reads it back, ``str(key)`` writes it.

Every episode rule (hung job, straggler host, throughput) answers a tick in one shape,
:class:`Episodes`: the episodes it opens (each with its alert), those it closes, and a stop
when one is due. The caller keeps the open episodes on the run and sends the alerts.
"""

from __future__ import annotations

from enum import StrEnum

from .decision import Decision
from .values import frozen


class EpisodeRule(StrEnum):
    HUNG = "hung"
    STRAGGLER = "straggler"
    THROUGHPUT = "throughput"


@frozen(order=True)
class EpisodeKey:
    """One open health episode of a run: its rule and (per-host rules) its host."""

    rule: EpisodeRule
    host: str | None = None

    def __str__(self) -> str:
        return self.rule.value if self.host is None else f"{self.rule.value}:{self.host}"

    def alert(self, at: float) -> str:
        """The once-only key of the alert this episode opened at ``at`` (epoch s)."""
        return f"{self}:{at:.0f}"

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


class EpisodeState(StrEnum):
    """A GPU-idle episode's state on its host's item (stored as these strings)."""

    OPEN = "open"
    CLOSED = "closed"
