"""``trainguard check``: before a launch (``--request FILE``, the CreateTrainingJob request
as JSON, what ``aws sagemaker create-training-job --cli-input-json`` takes) or on a running
job (``JOB``: DescribeTrainingJob and ListTags), whether trainguard will watch the job, with
which settings, and why any rule will not.

It checks the ``trainguard:*`` tags (every bad value and every key near a trainguard key at
once: :func:`trainguard.config.tag_problems`), that the objective names a
``MetricDefinitions`` entry (else the nearest name: "did you mean"), the instance types
against the catalog (the policy's prices over the defaults), and heterogeneous clusters
(``ResourceConfig.InstanceGroups``: what each group gets). The settings are the evaluator's
own (:func:`trainguard.config.resolve_settings`) under the deployed policy, its group's
calibrated policy and the runtime controls, read from the stack; with no stack reachable,
under the deployed defaults (it says so).

Exit 0: every rule the settings turn on will watch the job; 1: not (a pipeline can gate on
it); 2: unusable input (a file that cannot be read, is not JSON or not an object; a job that
does not exist), in one line.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from trainguard.config import (
    Controls,
    JobSettings,
    Policy,
    PolicyError,
    TagProblem,
    normalize_tags,
    resolve_settings,
    tag_problems,
)
from trainguard.constants import TAG_GROUP, TAG_OBJECTIVE, TAG_RETRY, TAG_THROUGHPUT
from trainguard.core.curves import fmt
from trainguard.core.instances import (
    GpuHosts,
    InstanceCatalog,
    InstanceGroup,
    InstanceSpec,
    gpu_hosts,
    job_instances,
)
from trainguard.logic.retry import MAX_RETRIES, retry_count
from trainguard.models import GroupPolicy, ReferenceSet

from .stack import STACK_NAME, OpsError, add_stack_arguments, connect, deployed_policy, run

EXIT_WATCHED, EXIT_NOT_WATCHED, EXIT_UNUSABLE = 0, 1, 2
Status = Literal["watched", "waiting", "off", "n/a", "NOT WATCHED"]


class InputError(ValueError):
    """A request or job description that cannot be checked, in one line (exit 2)."""


# ---- the job's shape, from a request or a description --------------------------------------------
@dataclass(frozen=True)
class JobShape:
    """What trainguard reads of a job: its name, tags, metric names and instances."""

    name: str
    tags: dict[str, str]
    metrics: tuple[str, ...]  # AlgorithmSpecification.MetricDefinitions[].Name
    algorithm: str  # AlgorithmSpecification.AlgorithmName (its metrics are its own)
    instances: tuple[InstanceGroup, ...]
    heterogeneous: bool  # ResourceConfig.InstanceGroups
    max_runtime_s: float | None


def _object(doc: Mapping[str, Any], key: str, where: str = "") -> Mapping[str, Any]:
    value = doc.get(key, {})
    if not isinstance(value, Mapping):
        raise InputError(f"{where}{key} must be an object, got {type(value).__name__}")
    return value


def read_shape(doc: Mapping[str, Any], tags: Mapping[str, str] | None = None) -> JobShape:
    """A CreateTrainingJob request (or a DescribeTrainingJob response: the same names) as
    the job trainguard will see; ``tags`` (ListTags) replace the document's ``Tags``."""
    name = doc.get("TrainingJobName", "")
    if not isinstance(name, str):
        raise InputError(f"TrainingJobName must be a string, got {type(name).__name__}")
    if tags is None:
        try:
            tags = normalize_tags(doc.get("Tags"))
        except PolicyError as exc:
            raise InputError(str(exc)) from None
    algorithm = _object(doc, "AlgorithmSpecification")
    definitions = algorithm.get("MetricDefinitions") or []
    if not isinstance(definitions, list) or not all(isinstance(d, Mapping) for d in definitions):
        raise InputError("AlgorithmSpecification.MetricDefinitions must be a list of objects")
    resources = _object(doc, "ResourceConfig")
    try:
        instances = job_instances(resources)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    groups = resources.get("InstanceGroups")
    runtime = _object(doc, "StoppingCondition").get("MaxRuntimeInSeconds")
    if runtime is not None and (isinstance(runtime, bool) or not isinstance(runtime, int | float)):
        raise InputError(f"StoppingCondition.MaxRuntimeInSeconds must be a number, got {runtime!r}")
    return JobShape(
        name=name,
        tags=dict(tags),
        metrics=tuple(str(d.get("Name", "")) for d in definitions),
        algorithm=str(algorithm.get("AlgorithmName", "") or ""),
        instances=instances,
        heterogeneous=bool(groups),
        max_runtime_s=None if runtime is None else float(runtime),
    )


# ---- the report --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    """Something that leaves the job (or a rule of it) unwatched, and its fix."""

    what: str
    fix: str


@dataclass(frozen=True)
class RuleCoverage:
    rule: str
    status: Status
    detail: str  # watched: its settings; else why not


@dataclass
class Where:
    """What the job is judged under: the policy in force and where it comes from."""

    policy: Policy
    source: str  # "stack Trainguard (us-east-1)" or "the deployed defaults (...)"
    controls: Controls = field(default_factory=Controls)
    group_policy: GroupPolicy | None = None
    references: int | None = None  # completed jobs in the job's reference set (None: not read)


@dataclass
class Report:
    job: str
    source: str  # what was checked: the request file or the running job
    policy: str  # Where.source
    group: str
    objective: str | None
    direction: str
    mode: str
    instances: list[str]
    tag_problems: list[TagProblem]
    problems: list[Problem]
    rules: list[RuleCoverage]
    notes: list[str]

    @property
    def watched(self) -> bool:
        gaps = [r for r in self.rules if r.status == "NOT WATCHED"]
        return bool(self.group) and not (self.tag_problems or self.problems or gaps)

    @property
    def exit_code(self) -> int:
        return EXIT_WATCHED if self.watched else EXIT_NOT_WATCHED

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc.update(watched=self.watched, exit_code=self.exit_code)
        return doc


def nearest(name: str, names: Sequence[str]) -> str | None:
    """The name of ``names`` nearest ``name`` (the same but for case first), None if none
    is close."""
    same = [n for n in names if n.casefold() == name.casefold()]
    if same:
        return same[0]
    close = difflib.get_close_matches(name, list(names), n=1, cutoff=0.6)
    return close[0] if close else None


def _metric_problem(tag: str, metric: str, shape: JobShape) -> Problem | None:
    """Why ``metric`` (the value of ``tag``) will not reach CloudWatch (None: it will, or it
    cannot be known here)."""
    if metric in shape.metrics or (not shape.metrics and shape.algorithm):
        return None
    if not shape.metrics:
        return Problem(
            f"{tag}={metric}: the job defines no MetricDefinitions, so no metric of it "
            "reaches CloudWatch (a built-in algorithm's own metrics are not checked here)",
            f'add {{"Name": "{metric}", "Regex": "..."}} to AlgorithmSpecification.'
            "MetricDefinitions",
        )
    near = nearest(metric, shape.metrics)
    fix = (
        f"did you mean {near}? set {tag}={near}"
        if near is not None
        else f"set {tag} to one of: {', '.join(shape.metrics)}"
    )
    return Problem(
        f"{tag}={metric} names no MetricDefinitions entry of the job "
        f"(it defines {', '.join(shape.metrics)})",
        fix,
    )


def _instances(shape: JobShape, catalog: InstanceCatalog) -> list[str]:
    """A line per instance group: count, type, GPUs and price (a heterogeneous cluster's
    groups: what the GPU rules make of each)."""
    out = []
    for g in shape.instances:
        spec = catalog.get(g.instance_type)
        what = f"{g.count} x {g.instance_type or '(no InstanceType)'}" + (
            " (unknown instance type)" if spec is None else _spec_text(spec)
        )
        if shape.heterogeneous:
            gpu = spec is not None and spec.reports_gpu_utilization
            what = f"group {g.name}: {what}: " + (
                "its hosts watched by gpu-idle, hang, straggler"
                if gpu
                else "unknown: no GPU rule can watch its hosts"
                if spec is None
                else "no GPU rule applies"
            )
        out.append(what)
    return out


def _gpu_groups(shape: JobShape, catalog: InstanceCatalog) -> str:
    """The names of the instance groups whose hosts report GPUs."""
    return ", ".join(
        g.name
        for g in shape.instances
        if (spec := catalog.get(g.instance_type)) is not None and spec.reports_gpu_utilization
    )


def _spec_text(spec: InstanceSpec) -> str:
    gpus = f"{spec.gpus} x {spec.accelerator or 'GPU'}" if spec.gpus else "no GPU"
    return f" ({gpus} per host, ${spec.usd_per_hour:.3f}/h per host)"


@dataclass(frozen=True)
class _Hosts:
    """What the GPU rules can read of the job's hosts: ``gpus`` per host (None: they do not
    apply, or cannot), ``why`` not, and whether that is a gap (a problem) or not."""

    gpus: int | None
    why: str = ""
    gap: bool = False
    plan: GpuHosts | None = None


def _hosts(shape: JobShape, catalog: InstanceCatalog, problems: list[Problem]) -> _Hosts:
    plan = gpu_hosts(shape.instances, catalog)
    if plan.unknown:
        _unknown_types(shape, catalog, problems)
        return _Hosts(None, plan.why, gap=True)
    if plan.gpus is None:
        if shape.heterogeneous:
            return _Hosts(None, "no instance group has GPUs")
        (group,) = shape.instances
        spec = catalog.get(group.instance_type)
        why = "Trainium reports no GPUUtilization" if spec and spec.gpus else "no GPUs"
        return _Hosts(None, f"{group.instance_type}: {why}")
    return _Hosts(plan.gpus, plan=plan)


def _unknown_types(shape: JobShape, catalog: InstanceCatalog, problems: list[Problem]) -> None:
    for g in shape.instances:
        if g.instance_type in catalog:
            continue
        near = nearest(g.instance_type, catalog.names())
        mean = f"did you mean {near}? else " if near else ""
        problems.append(
            Problem(
                f"unknown instance type {g.instance_type!r}: trainguard does not know its GPUs "
                "(no GPU-idle alarms, no hang or straggler watch, no cost)",
                f"{mean}add it to the deployed policy's prices: "
                f'-c prices=\'{{"{g.instance_type}": '
                '{"gpus": N, "usd_per_hour": P}}\'',
            )
        )


def check_job(shape: JobShape, where: Where, source: str) -> Report:
    """What trainguard will watch of ``shape`` under ``where``: pure."""
    policy = where.policy
    catalog = policy.catalog()
    tag_issues = tag_problems(shape.tags)
    try:
        retry_count(shape.tags)
    except ValueError as exc:
        fix = f"{TAG_RETRY}=<a whole number from 1 to {MAX_RETRIES}>"
        tag_issues.append(TagProblem(TAG_RETRY, shape.tags[TAG_RETRY], "value", str(exc), fix))
    problems: list[Problem] = []
    report = Report(
        job=shape.name or "(no TrainingJobName)",
        source=source,
        policy=where.source,
        group=shape.tags.get(TAG_GROUP, "").strip(),
        objective=None,
        direction="minimize",
        mode="not evaluated",
        instances=_instances(shape, catalog),
        tag_problems=tag_issues,
        problems=problems,
        rules=[],
        notes=[],
    )
    if not report.group:
        problems.append(
            Problem(
                f"no {TAG_GROUP} tag: the job is not opted in (only its GPU-idle alarms, if any)",
                f"add {TAG_GROUP}=<the job's group>",
            )
        )
        return report
    try:
        settings = resolve_settings(shape.tags, policy, where.group_policy, where.controls)
    except PolicyError:
        # the evaluator skips the job (its GPU-idle alarms stay, as for any job): say what
        # would watch it once the bad values are fixed
        bad = {t.key for t in tag_issues if t.kind == "value"}
        kept = {k: v for k, v in shape.tags.items() if k not in bad}
        settings = resolve_settings(kept, policy, where.group_policy, where.controls)
        report.notes.append(
            "the evaluator skips the job until its tags are fixed: no rule "
            "watches it (the rules say what will, once they are)"
        )
        rules = _rules(shape, settings, where, catalog, problems, report.notes)
        report.rules = [
            RuleCoverage(r.rule, "NOT WATCHED", f"bad tags; once fixed: {r.detail}")
            if r.status in ("watched", "waiting") and r.rule != "gpu-idle"
            else r
            for r in rules
        ]
        report.objective, report.direction = settings.objective, settings.direction
        return report
    report.objective, report.direction = settings.objective, settings.direction
    report.mode = settings.mode + (f" ({settings.hold}: reports only)" if settings.hold else "")
    report.rules = _rules(shape, settings, where, catalog, problems, report.notes)
    return report


def _rules(
    shape: JobShape,
    settings: JobSettings,
    where: Where,
    catalog: InstanceCatalog,
    problems: list[Problem],
    notes: list[str],
) -> list[RuleCoverage]:
    p = settings.policy
    objective_gap: str | None = None
    if settings.objective is None:
        objective_gap = f"no {TAG_OBJECTIVE} tag"
        problems.append(
            Problem(
                f"no {TAG_OBJECTIVE} tag: no objective rule judges the job, no hang watch",
                f"add {TAG_OBJECTIVE}=<"
                + (" or ".join(shape.metrics) or "its metric's name")
                + ">",
            )
        )
    else:
        missing = _metric_problem(TAG_OBJECTIVE, settings.objective, shape)
        if missing is not None:
            objective_gap = f"{settings.objective} will not arrive"
            problems.append(missing)
        elif not shape.metrics:
            notes.append(
                f"{settings.objective}: not checked (the metrics of algorithm "
                f"{shape.algorithm} are its own)"
            )
    rules: list[RuleCoverage] = []

    def add(
        rule: str,
        enabled: bool,
        settings_text: str,
        gap: str | None = None,
        not_applicable: str | None = None,
        waiting: str | None = None,
    ) -> None:
        if not enabled:
            rules.append(RuleCoverage(rule, "off", "turned off in the policy"))
        elif gap is not None:
            rules.append(RuleCoverage(rule, "NOT WATCHED", gap))
        elif not_applicable is not None:
            rules.append(RuleCoverage(rule, "n/a", not_applicable))
        elif waiting is not None:
            rules.append(RuleCoverage(rule, "waiting", f"{settings_text}; {waiting}"))
        else:
            rules.append(RuleCoverage(rule, "watched", settings_text))

    def references(needed: int) -> str | None:
        have = where.references
        if have is None:
            return None
        return (
            None
            if have >= needed
            else (f"{have} of {needed} completed jobs of its reference set so far")
        )

    c, m, pa, d = p.catchup, p.median, p.patience, p.divergence
    add(
        "catch-up",
        c.enabled,
        f"k {fmt(c.noise_multiple)} x noise, {c.consecutive} reports in "
        f"a row, {c.min_completed} completed references",
        objective_gap,
        waiting=references(c.min_completed),
    )
    add(
        "median",
        m.enabled,
        f"{m.min_completed} completed references, grace {fmt(m.grace)}, average {m.average}",
        objective_gap,
        waiting=references(m.min_completed),
    )
    add(
        "patience",
        pa.enabled,
        f"{pa.patience} reports without an improvement > {fmt(pa.min_delta)}",
        objective_gap,
    )
    add(
        "divergence",
        d.enabled,
        f"NaN/inf, > {fmt(d.explode_factor)} x its scale, silent {fmt(d.silence_minutes)} min",
        objective_gap,
    )
    r = p.runtime
    stall = "" if objective_gap else f", objective stalled {fmt(r.stall_minutes)} min"
    add(
        "runtime",
        r.enabled,
        f"MaxRuntimeInSeconds cap {fmt(r.max_runtime_cap_hours)} h, "
        f"overtime > {fmt(r.duration_factor)} x the group's median{stall}",
    )
    cap = r.max_runtime_cap_hours * 3600
    if r.enabled and (shape.max_runtime_s is None or shape.max_runtime_s > cap):
        have = "missing" if shape.max_runtime_s is None else f"{fmt(shape.max_runtime_s)} s"
        notes.append(
            f"MaxRuntimeInSeconds {have} (cap {fmt(r.max_runtime_cap_hours)} h): "
            "trainguard will alert on it"
        )
    hosts = _hosts(shape, catalog, problems)
    gap = hosts.why if hosts.gap else None
    na = hosts.why if not hosts.gap and hosts.gpus is None else None
    g, h, s = p.gpu_idle, p.hang, p.straggler
    count = sum(i.count for i in shape.instances)
    plan = hosts.plan
    alarms = f"an alarm per host ({count})"
    if plan is not None and shape.heterogeneous:
        count = plan.hosts  # the straggler compares the GPU hosts
        alarms = f"an alarm per GPU host ({plan.hosts}" + (
            ", each once it reports: SageMaker does not say which algo-n is in which group)"
            if not plan.named
            else ")"
        )
        if plan.mixed:
            notes.append(
                f"GPU groups of different GPU counts: each host's GPUUtilization is divided "
                f"by the smallest count ({plan.gpus}), so a host of a bigger group is called "
                "idle only when even that says so"
            )
    after = g.stop_after_minutes
    stop = "never stops" if after is None else f"stops after {fmt(after)} min (enforce)"
    add(
        "gpu-idle",
        g.enabled,
        f"{alarms}: < {fmt(g.threshold_pct)}% per GPU "
        f"for {fmt(g.window_minutes)} min, after {fmt(g.warmup_minutes)} min; {stop}",
        gap,
        na,
    )
    add(
        "hang",
        h.enabled,
        f"objective silent > {fmt(h.floor_minutes)} min and > "
        f"{fmt(h.gap_multiple)} x its gaps, GPUs flat {fmt(h.window_minutes)} min",
        gap or (objective_gap if h.enabled and hosts.gpus else None),
        na,
    )
    add(
        "straggler",
        s.enabled,
        f"a host {fmt(s.margin_pct)} points per GPU below the others"
        + (f" of its group ({_gpu_groups(shape, catalog)})" if shape.heterogeneous else "")
        + f" for {fmt(s.window_minutes)} min",
        gap
        or (
            "the hosts of GPU groups cannot be told apart (SageMaker does not say which "
            "algo-n is in which group), so no group's hosts are compared"
            if s.enabled and plan is not None and not plan.one_group
            else None
        ),
        na or ("one instance" if count < 2 else None),
    )
    t = p.throughput
    metric = settings.throughput_metric
    tp_gap = None
    if t.enabled and metric is not None:
        missing = _metric_problem(TAG_THROUGHPUT, metric, shape)
        if missing is not None:
            problems.append(missing)
            tp_gap = f"{metric} will not arrive"
    add(
        "throughput",
        t.enabled,
        f"{metric}: < {fmt(t.fraction)} x the group's median per "
        f"instance, or a drop > {fmt(t.drop)}",
        tp_gap,
        None if metric else f"no {TAG_THROUGHPUT} tag (the job's opt-in)",
    )
    return rules


# ---- the text ----------------------------------------------------------------------------------
def format_text(report: Report) -> str:
    lines = [
        f"trainguard check: {report.job} ({report.source})",
        f"Policy:    {report.policy}",
        f"Group:     {report.group or '(none: not opted in)'}"
        + (f", objective {_objective(report)}, mode {report.mode}" if report.group else ""),
        *(f"Instances: {line}" for line in report.instances),
    ]
    issues = [(str_problem(t), t.fix) for t in report.tag_problems]
    issues += [(p.what, p.fix) for p in report.problems]
    if issues:
        lines += ["", f"Problems ({len(issues)}):"]
        for what, fix in issues:
            lines += [f"  - {what}", f"    fix: {fix}"]
    if report.rules:
        lines += ["", "Rules:"]
        width = max(len(r.rule) for r in report.rules)
        for r in report.rules:
            lines.append(f"  {r.rule.ljust(width)}  {r.status.ljust(11)}  {r.detail}")
    if report.notes:
        lines += ["", *(f"Note: {note}" for note in report.notes)]
    plural = "s" * (len(issues) != 1)
    verdict = (
        "fully watched" if report.watched else f"NOT fully watched ({len(issues)} problem{plural})"
    )
    lines += ["", f"Verdict: {verdict}: exit {report.exit_code}"]
    return "\n".join(lines)


def _objective(report: Report) -> str:
    return f"{report.objective} ({report.direction})" if report.objective else "(none)"


def str_problem(t: TagProblem) -> str:
    return t.problem if t.kind != "value" or t.key in t.problem else f"{t.key}: {t.problem}"


# ---- input and context ---------------------------------------------------------------------------
def read_request(path: str) -> dict[str, Any]:
    """The request file as a JSON object, or :class:`InputError` saying why not."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or exc
        raise InputError(f"{path}: cannot be read ({why})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise InputError(
            f"{path}: not a JSON object (a CreateTrainingJob request), got {type(doc).__name__}"
        )
    return doc


def where_for(args: argparse.Namespace, session: Any, tags: Mapping[str, str]) -> Where:
    """The policy the job will be judged under: the stack's (its deployed policy, the group's
    calibrated policy, the runtime controls, the reference set's completed jobs), else the
    deployed defaults, saying why."""
    from botocore.exceptions import BotoCoreError, ClientError

    if args.offline:
        return Where(Policy(), "the deployed defaults (--offline: no stack read)")
    try:
        deployed = connect(args.stack, args.region, session=session)
        policy, _ = deployed_policy(deployed)
        where = Where(policy, f"stack {deployed.stack} ({deployed.region})", deployed.controls())
        group = tags.get(TAG_GROUP, "").strip()
        if group:
            try:
                direction = tags.get("trainguard:direction", "minimize").strip().lower()
                refs = ReferenceSet(group, tags.get(TAG_OBJECTIVE, "").strip(), direction)
                stats, policies = deployed.state_table().references.batch_get_group_state({refs})
                where.group_policy = policies.get(group)
                where.references = stats[refs].references if refs in stats else 0
            except (BotoCoreError, ClientError) as exc:
                where.source += f" (the group's state unreadable: {exc})"
        return where
    except (OpsError, BotoCoreError, ClientError) as exc:
        why = str(exc).split("\n", 1)[0]
        return Where(Policy(), f"the deployed defaults (no stack reachable: {why})")


def describe_job(session: Any, name: str) -> tuple[dict[str, Any], dict[str, str]]:
    """DescribeTrainingJob and ListTags of a job (:class:`OpsError` when there is none)."""
    from trainguard.adapters.aws import boto_config
    from trainguard.adapters.sagemaker import SageMakerAdapter
    from trainguard.models import JobNotFoundError

    sagemaker = SageMakerAdapter(session.client("sagemaker", config=boto_config()))
    try:
        described: dict[str, Any] = dict(sagemaker.describe(name))
        return described, sagemaker.tags(str(described.get("TrainingJobArn", "")))
    except JobNotFoundError:
        raise OpsError(f"training job {name} not found in {session.region_name}") from None


def _run(args: argparse.Namespace) -> int:
    def command() -> int:
        import boto3  # honours AWS_ENDPOINT_URL (the emulated control plane)

        session = None
        try:
            if args.request is not None:
                shape = read_shape(read_request(args.request))
                source = f"request {args.request}"
                if not args.offline:
                    session = boto3.session.Session(region_name=args.region)
            else:
                session = boto3.session.Session(region_name=args.region)
                described, tags = describe_job(session, args.job)
                shape = read_shape(described, tags)
                source = f"running job, {described.get('TrainingJobStatus', '?')}"
        except InputError as exc:
            raise OpsError(str(exc)) from None
        report = check_job(shape, where_for(args, session, shape.tags), source)
        if args.json:
            print(json.dumps(report.to_dict(), indent=2, default=str))
        else:
            print(format_text(report))
        return report.exit_code

    return run(command)


def register(sub: Any) -> None:
    """``trainguard check (JOB | --request FILE) [--json] [--offline] [--stack S] [--region R]``."""
    parser = sub.add_parser(
        "check",
        help="will trainguard watch this job? (a CreateTrainingJob request, or a running job)",
        description="Exit 0: fully watched; 1: not (the problems say why, with the fix); "
        "2: unusable input.",
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("job", nargs="?", help="a training job's name (DescribeTrainingJob)")
    what.add_argument(
        "--request", metavar="FILE", help="a CreateTrainingJob request as JSON ('-': stdin)"
    )
    parser.add_argument("--json", action="store_true", help="the report as JSON")
    parser.add_argument(
        "--offline",
        action="store_true",
        help="judge under the deployed defaults; do not look for the stack",
    )
    add_stack_arguments(parser)
    parser.set_defaults(func=_run, stack=STACK_NAME)
