"""Runtime guard: alerts (never stops) on runaway jobs.

* no ``MaxRuntimeInSeconds`` or one above the configured cap;
* running longer than ``duration_factor`` x the group's median duration of completed jobs;
* stalled: the objective metric has not arrived for ``stall_minutes`` while the job is
  InProgress.
"""

from __future__ import annotations

from .curves import fmt
from .decision import Decision
from .values import frozen

RULE_MAX_RUNTIME = "max_runtime"
RULE_OVERTIME = "overtime"
RULE_STALLED = "stalled"


@frozen
class RuntimeGuard:
    max_runtime_cap_hours: float = 72.0
    duration_factor: float = 3.0
    stall_minutes: float = 30.0

    def check_max_runtime(self, job: str, max_runtime_seconds: float | None) -> Decision | None:
        cap_s = self.max_runtime_cap_hours * 3600.0
        if max_runtime_seconds is None or max_runtime_seconds <= 0:
            return Decision(
                job=job,
                rule=RULE_MAX_RUNTIME,
                stop=False,
                step=None,
                value=None,
                threshold=cap_s,
                references=0,
                reason=f"no MaxRuntimeInSeconds (cap {fmt(self.max_runtime_cap_hours)} h)",
                alert=True,
            )
        if max_runtime_seconds > cap_s:
            return Decision(
                job=job,
                rule=RULE_MAX_RUNTIME,
                stop=False,
                step=None,
                value=max_runtime_seconds,
                threshold=cap_s,
                references=0,
                reason=(
                    f"MaxRuntimeInSeconds {fmt(max_runtime_seconds / 3600)} h exceeds the cap "
                    f"{fmt(self.max_runtime_cap_hours)} h"
                ),
                alert=True,
            )
        return None

    def check_overtime(
        self, job: str, elapsed_minutes: float, group_median_minutes: float | None, references: int
    ) -> Decision | None:
        if group_median_minutes is None or group_median_minutes <= 0 or references == 0:
            return None
        limit = self.duration_factor * group_median_minutes
        if elapsed_minutes <= limit:
            return None
        return Decision(
            job=job,
            rule=RULE_OVERTIME,
            stop=False,
            step=elapsed_minutes,
            value=elapsed_minutes,
            threshold=limit,
            references=references,
            reason=(
                f"running {fmt(elapsed_minutes)} min, over {fmt(self.duration_factor)} x the "
                f"group's median duration {fmt(group_median_minutes)} min of {references} "
                "completed jobs"
            ),
            alert=True,
        )

    def check_stalled(
        self, job: str, elapsed_minutes: float, minutes_since_metric: float | None
    ) -> Decision | None:
        """``minutes_since_metric``: since the objective's last datapoint, or since training
        start when it never reported (None: unknown, no verdict)."""
        if minutes_since_metric is None or minutes_since_metric < self.stall_minutes:
            return None
        return Decision(
            job=job,
            rule=RULE_STALLED,
            stop=False,
            step=elapsed_minutes,
            value=minutes_since_metric,
            threshold=self.stall_minutes,
            references=0,
            reason=(
                f"objective metric silent for {fmt(minutes_since_metric)} min "
                f"(limit {fmt(self.stall_minutes)} min) while the job is InProgress"
            ),
            alert=True,
        )
