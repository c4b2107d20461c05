"""``--since``: one syntax for every command that looks back (``report``, ``replay``,
``calibrate``): ``7d``, ``12h``, ``90m``, or a bare number of days (``7``, ``1.5``)."""

from __future__ import annotations

import argparse
import re

_SINCE = re.compile(r"^(\d+(?:\.\d+)?)\s*([dhm]?)$")
_UNIT_S = {"d": 86400.0, "h": 3600.0, "m": 60.0, "": 86400.0}
HELP = "7d, 12h, 90m, or a bare number of days"


class SinceError(ValueError):
    """A ``--since`` value that is not one of the accepted forms; the message says which are."""


def parse_since(text: str, *, max_days: float | None = None) -> float:
    """``7d``, ``12h``, ``90m`` or ``7`` (days) -> seconds; a :class:`SinceError` otherwise."""
    match = _SINCE.match(text.strip().lower())
    if not match or float(match.group(1)) == 0:
        raise SinceError(
            f"--since must be a number and a unit d, h or m (7d, 12h, 90m), or a bare number "
            f"of days (7), got {text!r}"
        )
    seconds = float(match.group(1)) * _UNIT_S[match.group(2)]
    if max_days is not None and seconds > max_days * 86400.0:
        raise SinceError(f"--since must be at most {max_days:g}d, got {text!r}")
    return seconds


def since_days(text: str) -> float:
    """The argparse ``type`` of ``--since``: the period in days (a usage error otherwise)."""
    try:
        return parse_since(text) / 86400.0
    except SinceError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
