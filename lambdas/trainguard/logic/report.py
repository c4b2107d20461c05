"""What trainguard did over a period, from its audit records: stops, would-be stops, alerts,
GPU hours and dollars saved, per group and in total.

The one summary behind ``trainguard report`` and the weekly digest (:mod:`.digest`), so both
count the same way. It reads the period as one Query per UTC day of the table's sparse
``audit`` index (:meth:`~trainguard.ports.AuditLog.decisions_on_day`) and the runs' items in
one BatchGetItem (their group and instances), never a Scan.

How the audit records (written by :mod:`.act`) are counted:

* a **stop** is a record whose action is ``STOPPED``: trainguard asked and SageMaker stopped
  the job. A job that was already ending (``NOT STOPPED (...)``), a refused stop (``COULD NOT
  STOP``) and a stop the re-check called off are not stops and save nothing; they are counted
  apart as ``not_stopped``;
* a **would-be stop** is ``WOULD STOP (observe)`` or ``WOULD STOP (<hold>)`` (stops
  disabled, paused, protected): what enforce mode would have stopped, with what it would have saved;
* an **alert** is ``ALERT`` (GPU idle, runtime guard, hung, straggler, throughput);
* **dollars saved** are the records' own ``estimated_dollars_saved`` (price x instances x the
  group's median remaining time, as act estimated it at the stop); **GPU hours saved** the
  same time in GPU hours: dollars x GPUs per instance / price per instance-hour, from the
  instance catalog (unknown types and CPU instances count 0 GPU hours).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ..core.instances import InstanceCatalog, hourly_cost
from ..core.stored import real
from ..core.values import frozen, mutable
from ..message import one_line
from ..models import JobRecord, RunId
from ..times import iso
from .ledger import Tally, tally_of

if TYPE_CHECKING:
    from ..ports import AuditLog, AuditRecord, Jobs

UNKNOWN_GROUP = "(unknown)"  # an audit record whose run item is gone (TTL, deleted)


@mutable
class Totals:
    """The counts of one group (or of all of them)."""

    stops: int = 0
    would_stops: int = 0
    alerts: int = 0
    not_stopped: int = 0  # stops asked for that did not happen (already ending, refused)
    dollars_saved: float = 0.0
    gpu_hours_saved: float = 0.0
    would_dollars_saved: float = 0.0  # what the would-be stops would have saved
    would_gpu_hours_saved: float = 0.0
    alerts_by_rule: dict[str, int] = field(default_factory=dict)
    jobs: int = 0  # distinct runs with at least one record
    # of the stops: those ``trainguard revive`` can continue (CheckpointConfig), those it
    # cannot (a stop recorded before resumability was is neither); and the revivals created
    resumable_stops: int = 0
    unresumable_stops: int = 0
    revived: int = 0

    def add(self, entry: Entry) -> None:
        if entry.kind is Tally.STOP:
            self.stops += 1
            self.dollars_saved += entry.dollars
            self.gpu_hours_saved += entry.gpu_hours
            resumable = entry.record.get("resumable")
            if resumable is not None:
                self.resumable_stops += 1 if resumable else 0
                self.unresumable_stops += 0 if resumable else 1
        elif entry.kind is Tally.REVIVED:
            # the revival runs on where the stop ended it: the stop saved nothing after all
            # (its entry carries the stop's estimate, negated: one logical job)
            self.revived += 1
            self.dollars_saved += entry.dollars
            self.gpu_hours_saved += entry.gpu_hours
        elif entry.kind is Tally.WOULD_STOP:
            self.would_stops += 1
            self.would_dollars_saved += entry.dollars
            self.would_gpu_hours_saved += entry.gpu_hours
        elif entry.kind is Tally.ALERT:
            self.alerts += 1
            self.alerts_by_rule[entry.rule] = self.alerts_by_rule.get(entry.rule, 0) + 1
        elif entry.kind is Tally.NOT_STOPPED:
            self.not_stopped += 1


@frozen
class Entry:
    """One audit record, classified, with its run and group."""

    run: RunId
    group: str
    at: str  # ISO-8601
    rule: str
    action: str
    kind: Tally
    dollars: float  # estimated dollars saved (0 when unknown or not a stop)
    gpu_hours: float
    record: AuditRecord


@mutable
class Summary:
    since: float  # epoch s, inclusive
    until: float  # epoch s, exclusive
    total: Totals
    groups: dict[str, Totals]
    entries: list[Entry]
    jobs: dict[RunId, JobRecord]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready (``trainguard report --format json``)."""
        return {
            "since": iso(self.since),
            "until": iso(self.until),
            "total": _rounded(asdict(self.total)),
            "groups": {g: _rounded(asdict(t)) for g, t in sorted(self.groups.items())},
        }


def kind_of(action: str) -> Tally:
    """How a record counts: its ``action`` read back as an :class:`~.ledger.Outcome`."""
    return tally_of(action)


def days(since: float, until: float) -> list[str]:
    """The UTC days (``YYYY-MM-DD``) that [since, until) touches: the partitions to read."""
    day = datetime.fromtimestamp(since, UTC).date()
    last = datetime.fromtimestamp(max(since, until - 1e-6), UTC).date()
    out = []
    while day <= last:
        out.append(day.isoformat())
        day += timedelta(days=1)
    return out


def read_audit(audit: AuditLog, since: float, until: float) -> list[tuple[RunId, AuditRecord]]:
    """The audit records written in [since, until), oldest first: one Query per UTC day."""
    out = []
    for day in days(since, until):
        for run, record in audit.decisions_on_day(day):
            at = _epoch(record.get("audit_at"))
            if at is not None and since <= at < until:
                out.append((run, record))
    return out


def gpu_hours_for(dollars: float, job: JobRecord | None, catalog: InstanceCatalog) -> float:
    """The GPU hours that ``dollars`` of the job's instances buy (0 when unknown): its GPUs
    over its dollars an hour, every instance group's together."""
    hourly = hourly_cost(job.groups, catalog) if job is not None else None
    if job is None or not hourly or hourly <= 0 or not dollars:
        return 0.0
    specs = [(catalog.get(g.instance_type), g.count) for g in job.groups]
    return dollars * sum(s.gpus * n for s, n in specs if s is not None) / hourly


def summarize(
    audit: AuditLog, jobs: Jobs, catalog: InstanceCatalog, since: float, until: float
) -> Summary:
    """The period's summary (see the module docstring for what counts): the audit's records
    and their runs' items."""
    records = read_audit(audit, since, until)
    items = jobs.batch_get_jobs({run for run, _ in records}) if records else {}
    return summarize_records(records, items, catalog, since, until)


def summarize_records(
    records: Sequence[tuple[RunId, AuditRecord]],
    jobs: Mapping[RunId, JobRecord],
    catalog: InstanceCatalog,
    since: float,
    until: float,
) -> Summary:
    """The summary of given records and their runs' items (pure)."""
    total, groups, entries = Totals(), dict[str, Totals](), list[Entry]()
    seen: dict[str, set[RunId]] = {}
    stopped: dict[RunId, float] = {}  # a run's stop's estimated savings in the period
    for run, record in records:
        job = jobs.get(run)
        group = job.group if job is not None and job.group else UNKNOWN_GROUP
        action = str(record.get("action", ""))
        kind = kind_of(action)
        saved = record.get("estimated_dollars_saved")
        dollars = real(saved) if kind in (Tally.STOP, Tally.WOULD_STOP) and saved else 0.0
        if kind is Tally.STOP:
            stopped[run] = dollars
        elif kind is Tally.REVIVED:  # a revived stop's saving is given back
            dollars = -stopped.pop(run, 0.0)
        entry = Entry(
            run,
            group,
            str(record.get("audit_at", "")),
            str(record.get("rule", "")),
            action,
            kind,
            dollars,
            gpu_hours_for(dollars, job, catalog),
            record,
        )
        entries.append(entry)
        total.add(entry)
        groups.setdefault(group, Totals()).add(entry)
        seen.setdefault(group, set()).add(run)
    for group, runs in seen.items():
        groups[group].jobs = len(runs)
    total.jobs = len({run for runs in seen.values() for run in runs})
    return Summary(since, until, total, groups, entries, dict(jobs))


# ---- output -----------------------------------------------------------------------------------

COLUMNS = (
    "stops",
    "would_stops",
    "alerts",
    "not_stopped",
    "gpu_hours_saved",
    "dollars_saved",
    "would_gpu_hours_saved",
    "would_dollars_saved",
    "resumable_stops",
    "unresumable_stops",
    "revived",
)


def format_text(summary: Summary) -> str:
    """A plain table, one line per group and the total."""
    lines = [f"trainguard report {iso(summary.since)} .. {iso(summary.until)}"]
    header = (
        "group",
        "jobs",
        "stops",
        "would-stop",
        "alerts",
        "not-stopped",
        "GPU-h saved",
        "$ saved",
        "would GPU-h",
        "would $",
    )
    rows = [_row(one_line(g), t) for g, t in sorted(summary.groups.items())]  # a line a group
    rows.append(_row("TOTAL", summary.total))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        cells = zip(r, widths, strict=True)
        lines.append(
            "  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(cells))
        )
    t = summary.total
    if t.resumable_stops or t.unresumable_stops or t.revived:
        lines.append(
            f"stops resumable (trainguard revive): {t.resumable_stops}, not resumable (no "
            f"CheckpointConfig): {t.unresumable_stops}; revived: {t.revived}"
        )
    if summary.total.alerts_by_rule:
        by_rule = ", ".join(f"{r} {n}" for r, n in sorted(summary.total.alerts_by_rule.items()))
        lines.append(f"alerts by rule: {by_rule}")
    if not summary.entries:
        lines.append("no audit records in the period")
    return "\n".join(lines)


def format_json(summary: Summary) -> str:
    return json.dumps(summary.to_dict(), indent=2, sort_keys=True)


def format_csv(summary: Summary) -> str:
    """One row per group and a TOTAL row."""
    import csv  # the tools' export only: not a handler's cold start

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["group", "jobs", *COLUMNS])
    for group, t in [*sorted(summary.groups.items()), ("TOTAL", summary.total)]:
        values = asdict(t)
        writer.writerow([csv_cell(group), t.jobs, *(_num(values[c]) for c in COLUMNS)])
    return out.getvalue()


_FORMULA = ("=", "+", "-", "@")  # a spreadsheet reads a cell that starts so as a formula


def csv_cell(text: str) -> str:
    """A user-written text (a group tag) as a CSV cell a spreadsheet shows as text: one that
    starts like a formula gets a leading ``'`` (OWASP's CSV injection advice); line breaks
    and control characters are shown, never kept (:func:`~trainguard.message.one_line`)."""
    text = one_line(text)
    return f"'{text}" if text.lstrip().startswith(_FORMULA) else text


def _row(group: str, t: Totals) -> tuple[str, ...]:
    return (
        group,
        str(t.jobs),
        str(t.stops),
        str(t.would_stops),
        str(t.alerts),
        str(t.not_stopped),
        f"{t.gpu_hours_saved:,.1f}",
        f"${t.dollars_saved:,.2f}",
        f"{t.would_gpu_hours_saved:,.1f}",
        f"${t.would_dollars_saved:,.2f}",
    )


def _num(value: object) -> object:
    return round(value, 4) if isinstance(value, float) else value


def _rounded(values: Mapping[str, object]) -> dict[str, object]:
    return {k: _num(v) for k, v in values.items()}


def _epoch(value: object) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def runs_of(entries: Iterable[Entry], kinds: Iterable[Tally]) -> list[RunId]:
    """The distinct runs of the entries of ``kinds``, in order of first appearance."""
    wanted, out = set(kinds), dict[RunId, None]()
    for e in entries:
        if e.kind in wanted:
            out.setdefault(e.run, None)
    return list(out)
