"""Every message trainguard sends, built here as a value (:class:`~trainguard.message.Message`):
a subject a person can triage from an inbox, a body of fields with the numbers, sentences and
links. Email and chat render the value at the edge (the SNS adapter), so nothing parses the
text back."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime

from ..config import TagProblem
from ..constants import TAG_OBJECTIVE, TAG_PROTECT
from ..core.curves import signed
from ..core.decision import Decision
from ..core.episode import HUNG, EpisodeKey
from ..message import (
    ELLIPSIS,
    GAP,
    SUBJECT_LIMIT,
    Message,
    Part,
    ascii_text,
    email_text,
    field,
    link,
    sentence,
    subject_line,
)

PREFIX = "[trainguard]"

RULE_NAMES = {
    "median": "median rule",
    "patience": "patience rule",
    "diverged": "diverged",
    "gpu_idle": "GPU idle",
    "max_runtime": "max runtime",
    "overtime": "overtime",
    "stalled": "metric stalled",
    "hung": "hung",
    "straggler": "straggler host",
    "throughput": "throughput",
    "catch-up": "catch-up rule",
}


def console_link(region: str, job: str) -> str:
    return f"https://{region}.console.aws.amazon.com/sagemaker/home?region={region}#/jobs/{job}"


def logs_link(region: str, job: str) -> str:
    """The job's log streams in CloudWatch Logs (group /aws/sagemaker/TrainingJobs)."""
    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logsV2:"
        f"log-groups/log-group/$252Faws$252Fsagemaker$252FTrainingJobs$3FlogStreamNameFilter$3D"
        f"{job}"
    )


# ---- numbers: one precision, real minus signs ---------------------------------------------------


number = signed  # a number as every message writes it (the subject's ASCII writes ``-``)


def duration(minutes: float) -> str:
    """``42 s``, ``7.5 min``, ``3 h 20 min``, ``672 h``: never seconds in scientific notation."""
    if minutes < 1.0:
        return f"{minutes * 60.0:.0f} s"
    if minutes < 60.0:
        return f"{number(minutes)} min"
    hours, rest = divmod(round(minutes), 60)
    return f"{hours} h" + (f" {rest} min" if rest else "")


# the unit of each rule's value and threshold: a duration (in the rule's own unit), or a suffix
_SECONDS = {"max_runtime"}
_MINUTES = {"overtime", "stalled", "hung"}
_SUFFIX = {"gpu_idle": "% per GPU", "straggler": "% per GPU", "throughput": " samples/s"}
# the rules whose numbers are read off completed jobs (the others: References says nothing)
_REFERENCE_RULES = {"median", "catch-up"}
# the rules that judge the objective's curve at a step (the others' step is the job's minutes)
_STEP_RULES = {"median", "catch-up", "patience", "diverged"}


def quantity(rule: str, x: float | None) -> str:
    """A rule's value or threshold in its unit (``x`` is not None)."""
    if x is None:
        return ""
    if rule in _SECONDS:  # a runtime: in hours, as the subject says it
        return f"{number(x / 3600.0)} h"
    if rule in _MINUTES:
        return f"{number(x)} min"
    return number(x) + _SUFFIX.get(rule, "")


def _comparison(d: Decision) -> str:
    if d.value is None or d.threshold is None:
        return ""
    if d.rule in _SECONDS:
        return f", {quantity(d.rule, d.value)} > cap {quantity(d.rule, d.threshold)}"
    if d.rule in _MINUTES:
        return f", {quantity(d.rule, d.value)} > {quantity(d.rule, d.threshold)}"
    if d.rule == "median":
        op = ">" if d.stop and _worse_is_greater(d) else "<"
        return f", {number(d.value)} {op} {number(d.threshold)}"
    return f", {number(d.value)} vs {number(d.threshold)}"


def _worse_is_greater(d: Decision) -> bool:
    return d.value is not None and d.threshold is not None and d.value > d.threshold


def _at_step(d: Decision) -> str:
    return "" if d.step is None or d.rule not in _STEP_RULES else f" at step {number(d.step)}"


# ---- subjects: the verb, the job, the key fact, within SNS's limit ------------------------------
MIN_JOB = 16  # a job name is not shortened below this (its start and its end)
KEEP_OUTCOME = len("WOULD STOP (stops disabled)")  # an outcome this short is always said whole


def compose_subject(head: str, job: str, fact: str, *, cut_fact: bool = False) -> str:
    """``[trainguard] <head> <job><fact>`` within SNS's limit
    (:data:`~trainguard.message.SUBJECT_LIMIT`), ASCII and one line
    (:func:`~trainguard.message.subject_line`, the subject's one sanitizer). Too long: the job
    name loses its middle (``sdk2-ddp-2...06-40-49-544``), never the verb or the fact; only
    when that is not enough is the fact cut at its end (``cut_fact``: a fact that is free text,
    a FailureReason, is cut before the job is shortened)."""
    head, job, fact = ascii_text(head), ascii_text(job), ascii_text(fact)
    fixed = len(PREFIX) + 1 + len(head) + 1
    room = SUBJECT_LIMIT - fixed - len(fact)
    if cut_fact:
        room = max(room, min(len(job), SUBJECT_LIMIT - fixed - 40))
    if len(job) > room:
        job = shorten(job, max(room, MIN_JOB))
    return subject_line(f"{PREFIX} {head} {job}{fact}")


def shorten(name: str, width: int) -> str:
    """``name`` in ``width`` characters, its middle replaced by an ellipsis (a SageMaker
    job name's start says what it is, its end which launch)."""
    if len(name) <= width:
        return name
    keep = max(width - len(ELLIPSIS), 2)
    tail = keep // 2
    return name[: keep - tail] + ELLIPSIS + name[len(name) - tail :]


def stop_subject(d: Decision, outcome: str) -> str:
    """outcome: STOPPED / WOULD STOP (observe) / WOULD STOP (stops disabled) / ...; a long
    why (``COULD NOT STOP (AccessDenied: ...)``) is the body's: the subject keeps its headline."""
    rule = RULE_NAMES.get(d.rule, d.rule)
    fact = f": {rule}{_comparison(d)}{_at_step(d)}"
    room = SUBJECT_LIMIT - len(PREFIX) - 2 - len(ascii_text(d.job)) - len(ascii_text(fact))
    return compose_subject(_fit(ascii_text(outcome), room), d.job, fact)


def _fit(outcome: str, room: int) -> str:
    """The outcome within ``room`` characters: its why cut (``NOT STOPPED (no longer opted
    in...)``), or only its headline when even that does not fit."""
    if len(outcome) <= max(room, KEEP_OUTCOME):
        return outcome
    head, paren, why = outcome.partition(" (")
    cut = room - len(head) - len(" (") - len(ELLIPSIS + ")")
    if not paren or cut < 8:
        return head
    return f"{head} ({why[:cut].rstrip()}{ELLIPSIS})"


def alert_subject(d: Decision) -> str:
    what = _HEALTH.get(d.rule)
    if what is not None and d.value is not None and d.threshold is not None:
        return compose_subject("ALERT", d.job, f": {what(d)}")
    rule = RULE_NAMES.get(d.rule, d.rule)
    return compose_subject("ALERT", d.job, f": {rule}{_comparison(d)}")


def _pattern(reason: str) -> str:
    """A hang's pattern, the head of its reason: ``hung (mixed: 1 pinned, 1 idle)``."""
    head, paren, _ = reason.partition("): ")
    return head + ")" if paren else reason.split(":", 1)[0]


def _host_of(d: Decision) -> str:
    """The straggling host its reason names (``<job>/algo-3 at ...``), without the job's name
    (the subject has it)."""
    host = d.reason.split(" at ", 1)[0]
    return host.removeprefix(f"{d.job}/")


# the health rules' subjects say what was seen, in its units (their reasons start with the
# pattern of a hang, "hung (pinned): ...", or the straggling host, "<job>/algo-3 at ...")
_HEALTH: dict[str, Callable[[Decision], str]] = {
    "hung": lambda d: (
        f"{_pattern(d.reason)}, objective silent {number(d.value)} min > {number(d.threshold)}"
    ),
    "straggler": lambda d: (
        f"straggler host {_host_of(d)}, {number(d.value)}% vs {number(d.threshold)}% per GPU"
    ),
    "throughput": lambda d: (
        f"throughput {number(d.value)} samples/s per instance < {number(d.threshold)}"
    ),
}


def retried_subject(job: str, retry: str, attempt: int, limit: int) -> str:
    """``RETRIED <job> as <job>-retry-1 (attempt 1 of 2)``; too long for the subject, the
    retry's name, the job's with a suffix, says the job once (``as ...-retry-1``)."""
    fact = f" as {retry} (attempt {attempt} of {limit})"
    full = f"{PREFIX} RETRIED {job}{fact}"
    if len(ascii_text(full)) > SUBJECT_LIMIT and retry.startswith(job) and retry != job:
        fact = f" as {ELLIPSIS}{retry[len(job) :]} (attempt {attempt} of {limit})"
    return compose_subject("RETRIED", job, fact)


def gpu_idle_subject(host: str, per_gpu: float | None, minutes: float) -> str:
    """``GPU idle: <job>/algo-1 (3%/GPU, 20 min)``: the job's name shortened, not the host."""
    job, _, index = host.rpartition("/")
    return compose_subject(
        "GPU idle:",
        job or host,
        f"{'/' + index if job else ''} ({number(per_gpu)}%/GPU, {duration(minutes)})",
    )


# ---- what to do --------------------------------------------------------------------------------
def next_steps(
    region: str, job: str, *, running: bool = True, ended: bool = False, revive: bool = False
) -> list[Part]:
    """How a message ends: what to do, where to look. ``running``: the job can still be stopped
    (the protect tag and the pause are next steps for it); else, a stopped job: how to keep the
    next one from a stop (``revive``: a resumable stop, and how to continue it); ``ended``: the
    job ended by itself (failed), its logs say why."""
    steps = [
        GAP,
        sentence("What to do:"),
        sentence(f"  trainguard explain {job}   why, with every number and the curve"),
    ]
    if running:
        steps += [
            sentence(
                f"  tag the job {TAG_PROTECT}=true   trainguard never stops it (it still reports)"
            ),
            sentence(
                "  trainguard pause --reason WHY [--group G]   every stop becomes a report "
                "until trainguard resume"
            ),
        ]
    elif ended:
        steps.append(sentence("  read its logs (below): the training container's own words"))
    else:
        if revive:
            steps.append(revive_step(job))
        steps.append(
            sentence(
                f"  to keep a job from being stopped: tag it {TAG_PROTECT}=true; "
                "to hold every stop: trainguard pause"
            )
        )
    links = [link("Logs", logs_link(region, job)), link("Console", console_link(region, job))]
    return [*steps, *links]


# the detail labels that were links (a claim written before next steps held its Logs link)
_LINKS = ("Logs",)


def decision(
    d: Decision,
    *,
    subject: str,
    outcome: str,
    mode: str,
    region: str,
    details: Mapping[str, object],
    revive: bool = False,
) -> Message:
    """A rule's decision: what was done (``outcome``), why, with the numbers and the facts,
    then what to do (``revive``: a resumable stop, continued by ``trainguard revive``). A
    field that means nothing for the rule is left out (no step, no value, no references)."""
    parts = [
        field("Job", d.job),
        field("Outcome", outcome),
        field("Rule", d.rule),
        field("Why", d.reason),
    ]
    if d.step is not None and d.rule in _STEP_RULES:
        parts.append(field("Step", number(d.step)))
    elif d.step is not None:  # the health and runtime rules: the job's minutes so far
        parts.append(field("Running", duration(d.step)))
    if d.value is not None:
        parts.append(field("Value", quantity(d.rule, d.value)))
    if d.threshold is not None:
        parts.append(field("Threshold", quantity(d.rule, d.threshold)))
    if d.references > 0 or d.rule in _REFERENCE_RULES:
        parts.append(field("References", d.references))
    parts.append(field("Mode", mode))
    parts += [
        field(k, number(v) if isinstance(v, float) else v)
        for k, v in details.items()
        if k not in _LINKS
    ]
    ended = outcome.startswith(("STOPPED", "NOT STOPPED"))
    steps = next_steps(region, d.job, running=not ended, revive=revive)
    return Message.of(subject, [*parts, *steps], 12)


def body(
    d: Decision,
    *,
    outcome: str,
    mode: str,
    region: str,
    details: Mapping[str, object],
) -> str:
    """The email text of :func:`decision`."""
    message = decision(d, subject="", outcome=outcome, mode=mode, region=region, details=details)
    return email_text(message)


def savings(amount: float | None, *, priced: bool, bound: float | None = None) -> str:
    """The Savings field: the estimate (price x instances x the group's median run left), else
    why there is none: no price for the type, or no completed job in the group to take the
    median run from (then ``bound``, price x time left to the job's max runtime, if known)."""
    if amount is not None:
        return f"${amount:,.2f}"
    if not priced:
        return "unknown: no price for the instance type"
    if bound is not None:
        return f"up to ${bound:,.2f} (to its max runtime; no completed job in the group yet)"
    return "no estimate yet: no completed job in the group"


def hang_stop(after_minutes: float | None, mode: str, enforcing: bool) -> str:
    """Whether trainguard will stop a hung job (the hang alert's ``Auto-stop`` field)."""
    if after_minutes is None:
        return "no: hangStopAfterMinutes is not set (trainguard alerts only)"
    if enforcing:
        return f"yes: trainguard stops it once hung {duration(after_minutes)}"
    return f"no: the job is in {mode} (in enforce: after {duration(after_minutes)} hung)"


def status(state: str, secondary: str | None) -> str:
    """``Failed``, or ``Failed (OutOfCapacity)``: the secondary status when it says more."""
    if not secondary or secondary.strip().lower() in (state.lower(), "n/a"):
        return state
    return f"{state} ({secondary})"


def after_hang(actions: Iterable[str]) -> str:
    """The job's hang, if trainguard alerted on (or stopped for) one: the FAILED email refers
    back to it (``actions``: the run's claimed ``ACTION#`` markers; a hang alert's is
    ``hung:<its last report, epoch s>#alert``)."""
    names = set(actions)
    alerts = [EpisodeKey.opened(a.split("#", 1)[0]) for a in names]  # <episode>#<kind>
    since = sorted(at for key, at in filter(None, alerts) if key == HUNG)
    stopped = any(f"{HUNG}#{kind}" in names for kind in ("stop", "report"))
    if not since and not stopped:
        return ""
    when = ""
    if since:
        stamp = datetime.fromtimestamp(int(since[-1]), UTC).strftime("%Y-%m-%d %H:%M UTC")
        when = f", silent since {stamp}"
    then = "; it then decided to stop it for the hang" if stopped else ""
    return f"trainguard alerted that this job was hung (its ALERT ... hung email{when}){then}"


def retry(subject: str, facts: Mapping[str, str], region: str, job: str) -> Message:
    """A capacity retry's outcome (created, or why not); a fact whose value is a URL (the
    retry's console page) is a link."""
    parts = [link(k, v) if v.startswith("https://") else field(k, v) for k, v in facts.items()]
    return Message.of(subject, [*parts, *next_steps(region, job, running=False, ended=True)], 13)


def failed(
    job: str, status: str, reason: str, group: str, retry: str, region: str, *, hang: str = ""
) -> Message:
    """A failed job (and what its capacity retry will do: ``retry``, empty when none; its
    hang alert, if it had one: ``hang``)."""
    parts = [
        field("Job", job),
        field("Status", status),
        field("Reason", reason),
        field("Group", group),
        *([field("Retry", retry)] if retry else []),
        *([field("Hang", hang)] if hang else []),
    ]
    return Message.of(
        compose_subject("FAILED", job, f": {reason}", cut_fact=True),
        [*parts, *next_steps(region, job, running=False, ended=True)],
        9,
    )


def config_error(job: str, error: str, region: str, problems: Sequence[TagProblem] = ()) -> Message:
    """A bad trainguard tag value on a job (``error``: the one that stopped its evaluation),
    with every problem of its tags (``problems``: :func:`~trainguard.config.tag_problems`),
    each with its fix."""
    listed = [field("Problem", error)] if error not in {p.problem for p in problems} else []
    for p in sorted(problems, key=lambda p: p.problem != error):  # the subject's first
        listed += [field("Problem", p.problem), field("Fix", p.fix)]
    # the count first: a long first problem is what the subject cuts, never how many there are
    fact = (
        f": {len(problems)} tag problems, the first: {error}" if len(problems) > 1 else f": {error}"
    )
    parts = [
        field("Job", job),
        *listed,
        sentence(LIVE_TAGS_CONFIG),
        *next_steps(region, job),
    ]
    return Message.of(compose_subject("CONFIG", job, fact, cut_fact=True), parts, 9)


# tags are live (trainguard.logic.retag): a fix on the running job takes effect
LIVE_TAGS = (
    "trainguard re-reads a running job's tags every few minutes (tagRereadMinutes): fix them "
    "on the job (aws sagemaker add-tags / delete-tags) and it takes effect then, with a "
    "WATCHED message (trainguard check JOB checks the job now)."
)
LIVE_TAGS_CONFIG = f"The job is not evaluated until its tags are fixed. {LIVE_TAGS}"
NOT_JUDGED = "NOT JUDGED"
WATCHED_STILL = (
    "Nothing is stopped for it, and the rules that need no objective (GPU idle, runtime, "
    f"straggler, throughput) still watch the job. {LIVE_TAGS}"
)


def no_objective(job: str, region: str) -> Message:
    """An opted-in job without a ``trainguard:objective`` tag: the stopping rules cannot
    judge it (issue 20's coverage notice)."""
    problem = "not judged by the stopping rules: no trainguard:objective tag"
    parts = [
        field("Job", job),
        field("Problem", problem),
        field("Fix", f"tag the job {TAG_OBJECTIVE}=<the metric> (a name of its MetricDefinitions)"),
        sentence(WATCHED_STILL),
        *next_steps(region, job),
    ]
    return Message.of(compose_subject(NOT_JUDGED, job, f": {problem}"), parts, 9)


def objective_missing(
    job: str,
    objective: str,
    minutes: float,
    defined: Sequence[str],
    region: str,
    *,
    held: Sequence[str] | None = None,
) -> Message:
    """A job's objective metric has no datapoint ``minutes`` after its training started while
    its instances report: the metric it looked for, the names the job defines
    (``MetricDefinitions``), the names CloudWatch holds for the job (``held``: ListMetrics;
    None: unreadable), and the nearest of them (issue 20's coverage notice)."""
    import difflib  # only a notice of a missing objective needs it: no cold-start cost

    names = list(dict.fromkeys([*defined, *(held or ())]))
    nearest = difflib.get_close_matches(objective, names, n=1, cutoff=0.6)
    if nearest:
        fix = f"did you mean `{nearest[0]}`? Tag the job {TAG_OBJECTIVE}={nearest[0]}"
    elif defined:
        fix = f"tag the job {TAG_OBJECTIVE}=<one of the names it defines>"
    else:
        fix = (
            f"define `{objective}` in the job's MetricDefinitions (a name and the regex of its "
            "log line), or tag the job with the name it defines"
        )
    parts = [
        field("Job", job),
        field(
            "Problem",
            f"no `{objective}` datapoint ({TAG_OBJECTIVE}) {duration(minutes)} after the "
            "job's training started, while its instances report: the stopping rules cannot "
            "judge it",
        ),
        field("Looked for", objective),
        field("Defined", ", ".join(defined) if defined else "no MetricDefinitions"),
        field("In CloudWatch", _held(held)),
        field("Fix", fix),
        sentence(WATCHED_STILL),
        *next_steps(region, job),
    ]
    fact = f": objective {objective} not arriving after {duration(minutes)}"
    return Message.of(compose_subject(NOT_JUDGED, job, fact), parts, 15)


def _held(held: Sequence[str] | None) -> str:
    if held is None:
        return "unknown (ListMetrics failed)"
    return ", ".join(held) if held else "no metric with the job's TrainingJobName yet"


NOT_WATCHED = "NOT WATCHED"


def unknown_instance_type(
    job: str,
    why: str,
    types: Sequence[str],
    rules: Sequence[str],
    known: Sequence[str],
    region: str,
) -> Message:
    """An opted-in job with an instance type trainguard does not know, in any of its instance
    groups (issue 20's coverage notice): ``why`` which type of which group, ``types`` the
    unknown types, ``rules`` the rules that cannot watch it, ``known`` the types it knows (the
    nearest is named)."""
    import difflib

    near = [m for t in types for m in difflib.get_close_matches(t, list(known), n=1, cutoff=0.8)]
    prices = ", ".join(f'"{t}": {{"gpus": N, "usd_per_hour": P}}' for t in types or ("TYPE",))
    fix = f"add it to the deployed policy's prices: -c prices='{{{prices}}}'"
    if near:
        fix = f"is it {near[0]}? else {fix}"
    parts = [
        field("Job", job),
        field("Problem", f"{why}: its GPUs and price are not known"),
        field("Not watched", ", ".join(rules) + "; no cost or savings" if rules else "-"),
        field("Fix", fix),
        sentence(
            "Nothing is stopped for it, and the rules that need no GPU count (the stopping "
            "rules, runtime, throughput) still watch the job."
        ),
        *next_steps(region, job),
    ]
    return Message.of(compose_subject(NOT_WATCHED, job, f": {why}"), parts, 13)


def now_watched(job: str, fixed: str, watching: str, region: str) -> Message:
    """A cause a notice said is gone (issue 20's coverage): what changed, what watches the job
    now."""
    parts = [
        field("Job", job),
        field("Changed", fixed),
        field("Watched by", watching),
        *next_steps(region, job),
    ]
    return Message.of(compose_subject("WATCHED", job, f": {fixed}"), parts, 12)


def gpu_recovered(host: str, minutes: float, region: str, job: str) -> Message:
    """A GPU-idle episode closed: the host's utilization is back."""
    parts = [
        field("Host", host),
        field("Recovered", "GPU utilization is back above the threshold"),
        field("Episode", f"{duration(minutes)} since the idle alert"),
        *next_steps(region, job),
    ]
    short, _, index = host.rpartition("/")
    return Message.of(
        compose_subject(
            "GPU recovered:",
            short or host,
            f"{'/' + index if short else ''} (after {duration(minutes)})",
        ),
        parts,
        10,
    )


def control_change(
    name: str,
    group: str | None,
    paused: bool | None,
    now_paused: bool,
    mode: str | None,
    by: str,
    at: str,
    reason: str,
    *,
    revive_auto: bool | None = None,
    revive_changed: bool = False,
) -> Message:
    """A runtime control changed (``trainguard pause | resume | mode | revive-auto``):
    ``paused`` is what the command asked (None: a mode or revival change), ``now_paused``,
    ``mode`` and ``revive_auto`` the control after it (``revive_changed``: the command set the
    revival switch)."""
    scope = "every group" if group is None else f"group {group}"
    revival = {True: "on", False: "off", None: "as the policy says (reviveAuto)"}[revive_auto]
    if revive_changed:
        subject = f"{PREFIX} REVIVE-AUTO {scope}: {revival}"
    elif paused is True:
        subject = f"{PREFIX} PAUSED {scope}: every stop is a report"
    elif paused is False:
        subject = f"{PREFIX} RESUMED {scope}: stops as the mode says"
    else:
        subject = f"{PREFIX} MODE {scope}: {mode or 'as deployed'}"
    parts = [
        field("Control", name),
        field("Paused", "yes" if now_paused else "no"),
        field("Mode", mode or "as deployed (or the job tag)"),
        *([field("Revive", f"on new evidence: {revival}")] if revive_changed else []),
        field("By", by),
        field("At", at),
        field("Reason", reason or "-"),
        GAP,
        sentence(
            "The functions act on it from their next tick. A job's trainguard:mode tag "
            "still decides its mode; a pause holds every stop, whatever the mode."
        ),
        GAP,
        sentence("What to do:"),
        sentence(
            f"  trainguard resume{'' if group is None else f' --group {group}'}   stops as "
            "the mode says again"
            if now_paused
            else f"  trainguard pause --reason WHY{'' if group is None else f' --group {group}'}"
            "   hold every stop"
        ),
        sentence("  trainguard status   what is running and what trainguard decided"),
    ]
    return Message.of(subject, parts, 9)


REPORT_STEPS = (
    sentence("What to do:"),
    sentence("  trainguard report --since 7d [--format csv]   every group's numbers"),
    sentence("  trainguard explain JOB   why a job was stopped, reported or alerted on"),
    sentence("  trainguard mode enforce --group G   let a group's stops happen (observe: report)"),
)


def report(subject: str, blocks: Sequence[Sequence[Part]], width: int) -> Message:
    """A report (the weekly digest): blocks of parts, a blank line between blocks."""
    parts: list[Part] = []
    for block in blocks:
        parts += [GAP, *block] if parts else list(block)
    return Message.of(subject, parts, width)


def lines(text: str) -> list[Part]:
    """Preformatted text (a table), a sentence a line."""
    return [sentence(line) for line in text.split("\n")]


# ---- revivals (trainguard revive) ------------------------------------------------------------
def revive_step(job: str) -> Part:
    """The stop email's next step for a resumable stop."""
    return sentence(
        f"  trainguard revive {job} --reason WHY   continue it from its checkpoints "
        "(a new job; the rule that stopped it no longer applies to it)"
    )


def revived(
    job: str,
    revival: str,
    outcome: str,
    *,
    facts: Mapping[str, str],
    region: str,
    created: bool,
) -> Message:
    """A revival's outcome: created (``REVIVED job as revival``), or why not."""
    head = "REVIVED" if created else outcome.split(" (", 1)[0]
    subject = compose_subject(head, job, f" as {revival}" if created else f": {revival}")
    parts = [field("Job", f"{job} (Stopped by trainguard)"), field("Outcome", outcome)]
    parts += [field(k, v) for k, v in facts.items()]
    if created:
        parts.append(link("Revival", console_link(region, revival)))
    width = max([12, *(len(k) + 2 for k in facts)])  # "Requested by:" aligned with the rest
    return Message.of(subject, [*parts, *next_steps(region, job, running=False)], width)
