"""The demo's pause: ``trainguard pause`` mid-run and ``trainguard resume`` later, run as an
operator runs them (the real CLI, through the deployed stack's outputs, against the emulator).

The pause starts at a fixed share of the run; it is lifted once it has held a stop (a "WOULD
STOP (paused by ...)" email) and a few minutes have passed, or after ``MAX_MINUTES``. The
check: no job was stopped while it was in force, it held at least one, and both changes were
announced.
"""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from unittest import mock

from ..emulator import emulator_env

if TYPE_CHECKING:
    from ..mailbox import Mailbox
    from ..sagemaker_shim import SageMakerShim

START_SHARE = 0.35  # the pause begins this far into the run
MIN_MINUTES = 3  # and lasts at least this long
MAX_MINUTES = 30
REASON = "demo: change freeze during the GPU quota review"
HELD = "WOULD STOP (paused)"
ENDED_BY_STOP = ("Stopping", "Stopped")


@dataclass
class PauseScenario:
    """Drives the pause from the simulation's minute hook; what it saw is in :meth:`record`."""

    endpoint_url: str
    shim: SageMakerShim
    mailbox: Mailbox
    jobs: list[str]
    last_minute: int
    paused_at: int | None = None
    resumed_at: int | None = None
    stopped_before: set[str] = field(default_factory=set)
    stopped_during: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    exit_codes: list[int] = field(default_factory=list)

    @property
    def start_minute(self) -> int:
        return max(1, int(self.last_minute * START_SHARE))

    def __call__(self, minute: int) -> None:
        """Before the minute's tick: pause, or resume when the pause has done its work."""
        if self.paused_at is None and minute >= self.start_minute:
            self.stopped_before = self._stopped()
            self._cli("pause", "--reason", REASON)
            self.paused_at = minute
        elif self.paused_at is not None and self.resumed_at is None:
            self.held = [e.subject for e in self.mailbox.emails() if HELD in e.subject]
            self.stopped_during = sorted(self._stopped() - self.stopped_before)
            long_enough = minute - self.paused_at >= MIN_MINUTES
            if (self.held and long_enough) or minute - self.paused_at >= MAX_MINUTES:
                self._cli("resume", "--reason", "demo: review done")
                self.resumed_at = minute

    def _stopped(self) -> set[str]:
        """The jobs stopped so far (a job not started yet is unknown to SageMaker)."""
        out = set()
        for job in self.jobs:
            with contextlib.suppress(KeyError):
                if self.shim.status(job)[0] in ENDED_BY_STOP:
                    out.add(job)
        return out

    def _cli(self, *argv: str) -> None:
        from trainguard_tools.cli import main

        buffer = io.StringIO()
        with (
            mock.patch.dict(os.environ, emulator_env(self.endpoint_url)),
            contextlib.redirect_stdout(buffer),
            contextlib.redirect_stderr(buffer),
        ):
            self.exit_codes.append(main([*argv, "--by", "demo-operator"]))
        self.outputs.append(buffer.getvalue().strip())

    def record(self) -> dict[str, Any]:
        announced = [
            e.subject
            for e in self.mailbox.emails()
            if " PAUSED " in e.subject or " RESUMED " in e.subject
        ]
        return {
            "paused_at_minute": self.paused_at,
            "resumed_at_minute": self.resumed_at,
            "stops_held": len(self.held),
            "held": self.held,
            "stopped_while_paused": self.stopped_during,
            "announced": announced,
            "cli_exit_codes": self.exit_codes,
            "cli_output": self.outputs,
        }
