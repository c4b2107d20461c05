"""The value object every rule returns: what was decided, and the numbers that explain it."""

from __future__ import annotations

import math
from dataclasses import asdict

from .stored import Record, as_number, exact
from .values import frozen


@frozen(kw_only=True)
class Decision:
    """One rule's verdict on one job at one step (built with keywords only: eight of its nine
    fields are numbers or flags, easy to swap by position).

    ``value`` is the job's value the rule compared (the best so far for the median and
    patience rules), ``threshold`` what it was compared with (None when no comparison was
    made), ``references`` how many jobs the threshold came from. ``stop`` asks for the job to
    be stopped; ``alert`` asks for a person to be told without stopping anything (GPU idle,
    runtime guard).
    """

    job: str
    rule: str
    stop: bool
    step: float | None
    value: float | None
    threshold: float | None
    references: int
    reason: str
    alert: bool = False

    @property
    def actionable(self) -> bool:
        """Worth an audit record and an email: a stop or an alert, not a plain 'continue'."""
        return self.stop or self.alert

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: non-finite numbers become None (JSON has no NaN); whole steps are ints."""
        out = asdict(self)
        for key in ("step", "value", "threshold"):
            x = out[key]
            if isinstance(x, float):
                if not math.isfinite(x):
                    out[key] = None
                elif key == "step" and x.is_integer():
                    out[key] = int(x)
        return out

    @classmethod
    def from_dict(cls, raw: Record) -> Decision:
        """The decision :meth:`to_dict` wrote (a claim's ``details``), its values as stored;
        KeyError or TypeError for an unreadable one."""
        return cls(
            job=exact(str, raw["job"]),
            rule=exact(str, raw["rule"]),
            stop=exact(bool, raw["stop"]),
            step=as_number(raw["step"]),
            value=as_number(raw["value"]),
            threshold=as_number(raw["threshold"]),
            references=exact(int, raw["references"]),
            reason=exact(str, raw["reason"]),
            alert=exact(bool, raw.get("alert", False)),
        )
