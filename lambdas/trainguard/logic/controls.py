"""The runtime controls: a pause (every stop becomes a report), the global mode and per-group
overrides, changed with ``trainguard pause | resume | mode`` and read by the functions at run
time, so that acting on them needs no deploy.

They are items of the state table (``CONTROL`` / ``GLOBAL`` and ``CONTROL`` / ``GROUP#<g>``,
one JSON ``value`` each: :mod:`trainguard.adapters.controls` reads them with Powertools'
parameters cache, at most ``CONTROLS_MAX_AGE_S`` old); their values are declared in
:mod:`trainguard.config.controls`, and how they take part in a job's settings (the precedence
chain) is :func:`trainguard.config.resolve_settings`. What cannot be read or understood
fails safe: every stop is held (alerts go on) and the reason is logged and counted in the
alarmed ``ConfigErrors`` metric.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..config.controls import Controls, parse_controls
from ..observability import logger

if TYPE_CHECKING:
    from ..ports import ControlReader


def read_controls(reader: ControlReader | None, *, fresh: bool = False) -> Controls:
    """The controls in force, never an exception: unreadable or invalid ones hold every stop
    (the reason is logged here; the handler counts it in ``ConfigErrors``). ``fresh``: past
    the reader's cache (a stop's last look before StopTrainingJob)."""
    if reader is None:
        return Controls()
    try:
        controls = parse_controls(reader.read(fresh=True) if fresh else reader.read())
    except Exception as exc:
        error = f"runtime controls unusable ({exc}): every stop is held"
        logger.error("unusable runtime controls", extra={"error": str(exc)})
        return Controls.unreadable(error)
    if controls.global_.paused or any(c.paused for c in controls.groups.values()):
        logger.info("stops paused", extra={"controls": controls.summary()})
    return controls
