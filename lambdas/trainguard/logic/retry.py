"""Capacity retries: a job that failed because SageMaker had no capacity for it (or the
account's limit was reached) is created again from its own description, under a new name,
after a back-off, as many times as its ``trainguard:retry=N`` tag allows. Nothing else is
ever recreated: not a job without that tag or without the opt-in (``trainguard:group``), not
any other failure, not a Stopped job.

Two halves, so that a crash anywhere is resumed and nothing is created twice:

* **plan** (:func:`on_failed`, the lifecycle's Failed branch): the reason is matched against
  :data:`CAPACITY_PATTERNS`, the tag read, and the attempt ``k`` claimed as the failed run's
  open action ``retry#<k>`` whose details say when it is due (``retry_at``: 2, 4, 8 ... minutes
  after the failure, capped at an hour) and under which name (:func:`retry_name`). The failed
  job's email says what will happen (or why not: a bad tag, retries off, all used).
* **carry out** (:func:`carry_out`, the dispatch table's carry-out of a retry, reached from
  the tick's ``Act.resume_open`` once the action is due): re-check with SageMaker (the same
  run, still Failed for that reason, still opted in, its role among the deployment's
  ``retryRoleArns``), build the CreateTrainingJob request from the DescribeTrainingJob answer
  (:func:`create_request`), create, audit, and announce once. A name already taken by this
  very retry (an earlier invocation's create went through) is success; a refusal
  (AccessDenied, a validation error) is audited and announced once and not asked again;
  throttling and server errors are tried again with back-off a few times.

The retry carries the original's tags (so it stays opted in, with its count), plus
``trainguard:retry-attempt=<k>`` and ``trainguard:retry-of=<first job>``. Those tags only
point at the chain: a retry that fails for capacity again is retried as ``k + 1`` (until the
count is used) only if trainguard's own claim on its parent run created it (:func:`lineage`);
any other job is a chain's first, under its own name, whatever a user tagged it.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from collections.abc import Mapping
from enum import StrEnum

from ..config import RetryConfigError, is_opted_in
from ..constants import (
    RETRY_NAME_INFIX,
    TAG_GROUP,
    TAG_RETRY,
    TAG_RETRY_ATTEMPT,
    TAG_RETRY_OF,
)
from ..core.decision import Decision
from ..core.instances import instances_text
from ..core.stored import Record, record, whole
from ..core.values import frozen
from ..models import CreateRefused, JobNotFoundError, JobRecord, epoch_ms
from ..observability import logger
from ..times import epoch_seconds, iso
from . import messages
from .dependencies import Dependencies
from .ledger import (
    Claim,
    ClaimState,
    Ledger,
    Outcome,
    OutcomeKind,
    describe_run,
    mail_key,
    retry_action,
)

RULE = "capacity_retry"
MAX_RETRIES = 10  # the most a tag may ask for
BACKOFF_S = 120.0  # before attempt k: 2, 4, 8, 16, 32, 60, 60 ... minutes
BACKOFF_CAP_S = 3600.0
MAX_CREATE_TRIES = 5  # a create that failed for a passing reason (throttled, 5xx, limit)
CREATE_TRY_S = 300.0  # 5, 10, 20, 40 minutes between those
HOLD_S = 300.0  # while the kill switch is on (or a setting is unreadable): look again later
NAME_MAX = 63  # SageMaker: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}
_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
NOT_ENABLED = (
    "retries are not enabled in this deployment (its retryRoleArns is empty: no role may be "
    "passed to SageMaker)"
)


# ---- which failures are a capacity problem ---------------------------------------------------
@frozen
class FailurePattern:
    """One shape of FailureReason that SageMaker gives when the job could not get capacity:
    ``kind`` is the SageMaker Pipelines retry-policy exception type it corresponds to."""

    kind: str
    pattern: re.Pattern[str]
    source: str


# SageMaker Pipelines' retry policy names the two retryable kinds of job failure:
# https://docs.aws.amazon.com/sagemaker/latest/dg/pipelines-retry-policy.html
# "SageMaker.CAPACITY_ERROR: the job may encounter Amazon EC2 InsufficientCapacityErrors" and
# "SageMaker.RESOURCE_LIMIT: you can exceed the resource limit quota". The texts below are
# the FailureReasons (error type first, then SageMaker's sentence) seen on real jobs. Each is
# anchored at the start of the reason: an AlgorithmError whose log happens to mention
# capacity is the user's code failing, never a capacity failure.
CAPACITY_PATTERNS: tuple[FailurePattern, ...] = (
    FailurePattern(
        "SageMaker.CAPACITY_ERROR",
        # "CapacityError: Unable to provision requested ML compute capacity. Please retry
        # using a different ML instance type."
        re.compile(r"^\s*CapacityError\b", re.IGNORECASE),
        "https://github.com/DIAGNijmegen/rse-grand-challenge/issues/2631; "
        "https://github.com/aws/sagemaker-pytorch-training-toolkit/pull/171",
    ),
    FailurePattern(
        "SageMaker.CAPACITY_ERROR",
        # the same sentence without its error type, as some SDKs print it
        re.compile(r"^\s*Unable to provision requested ML compute capacity", re.IGNORECASE),
        "https://github.com/DIAGNijmegen/rse-grand-challenge/issues/2631",
    ),
    FailurePattern(
        "SageMaker.CAPACITY_ERROR",
        # "EC2InsufficientCapacityError: Instance type 'ml.g5.48xlarge' is temporarily
        # unavailable in supported availability zones [euw1-az1]. Try again in a few minutes"
        # (the EC2 error the Pipelines page names: InsufficientCapacityError)
        re.compile(r"^\s*(EC2)?Insufficient(Instance)?Capacity(Error)?\b", re.IGNORECASE),
        "https://github.com/aws/amazon-sagemaker-feedback/issues/99; "
        "https://docs.aws.amazon.com/sagemaker/latest/dg/pipelines-retry-policy.html",
    ),
    FailurePattern(
        "SageMaker.RESOURCE_LIMIT",
        # "ResourceLimitExceeded: The account-level service limit 'ml.p3.8xlarge for training
        # job usage' is 2 Instances, with current utilization of 3 Instances and a request
        # delta of 1 Instances. Please contact AWS support to request an increase ..."
        re.compile(r"^\s*ResourceLimitExceeded\b", re.IGNORECASE),
        "https://github.com/aws/amazon-sagemaker-examples/issues/1543; "
        "https://github.com/gabehollombe-aws/jupyter-notebooks/issues/1",
    ),
    FailurePattern(
        "SageMaker.RESOURCE_LIMIT",
        re.compile(r"^\s*The account-level service limit\b", re.IGNORECASE),
        "https://github.com/aws/amazon-sagemaker-examples/issues/1543",
    ),
)


def capacity_kind(failure_reason: str | None) -> str | None:
    """``SageMaker.CAPACITY_ERROR`` or ``SageMaker.RESOURCE_LIMIT`` when the FailureReason is
    a capacity or resource-limit failure; None for every other reason (or none)."""
    if not failure_reason:
        return None
    for known in CAPACITY_PATTERNS:
        if known.pattern.search(failure_reason):
            return known.kind
    return None


# ---- configuration: the tag (the deployment's roles are read by trainguard.config) -----------
def retry_count(tags: Mapping[str, str]) -> int | None:
    """How many retries ``trainguard:retry`` asks for (None: no tag); a bad value is a
    :class:`RetryConfigError` naming the tag."""
    if TAG_RETRY not in tags:
        return None
    raw = str(tags[TAG_RETRY]).strip()
    # ASCII digits only: "²".isdigit() is True, but int() refuses it
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_RETRIES:
        raise RetryConfigError(
            f"{TAG_RETRY} must be a whole number from 1 to {MAX_RETRIES}, got {tags[TAG_RETRY]!r}"
        )
    return int(raw)


def attempt_of(tags: Mapping[str, str]) -> int:
    """Which attempt this job is (0: the chain's first job; a bad tag counts as 0)."""
    raw = str(tags.get(TAG_RETRY_ATTEMPT, "0")).strip()
    return int(raw) if raw.isascii() and raw.isdigit() else 0


def role_allowed(role_arn: str, allowed: tuple[str, ...]) -> bool:
    """``role_arn`` is one of the deployment's roles (a ``/*`` entry: any role on that path,
    as IAM reads the same pattern)."""
    return any(fnmatch.fnmatchcase(role_arn, pattern) for pattern in allowed)


# ---- names, back-off and the request ------------------------------------------------------------
def retry_name(base: str, attempt: int, infix: str = RETRY_NAME_INFIX) -> str:
    """``<base>-retry-<k>`` (or ``<base><infix><k>``: a revival's ``-revived-``), within
    SageMaker's 63 characters: a longer base is cut and a short hash of the whole of it kept,
    so two long names never share their retries'."""
    suffix = f"{infix}{attempt}"
    name = f"{base}{suffix}"
    if len(name) > NAME_MAX:
        digest = hashlib.sha256(base.encode()).hexdigest()[:8]
        keep = base[: NAME_MAX - len(suffix) - len(digest) - 1].rstrip("-")
        name = f"{keep}-{digest}{suffix}"
    if not _NAME.match(name):
        raise RetryConfigError(f"cannot name a new run of {base!r}: {name!r}")
    return name


def backoff_s(attempt: int) -> float:
    """Seconds from the failure to attempt ``attempt`` (1-based): 2, 4, 8 ... min, capped."""
    return min(BACKOFF_CAP_S, BACKOFF_S * 2.0 ** max(0, attempt - 1))


# What CreateTrainingJob accepts that DescribeTrainingJob returns, copied as described (the
# unit test holds this list against botocore's service model: every other field of the
# description is read-only, e.g. status, times, ARNs, ModelArtifacts, FinalMetricDataList).
COPIED_FIELDS = (
    "AlgorithmSpecification",
    "RoleArn",
    "InputDataConfig",
    "OutputDataConfig",
    "ResourceConfig",
    "StoppingCondition",
    "HyperParameters",
    "VpcConfig",
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
    "CheckpointConfig",
    "DebugHookConfig",
    "DebugRuleConfigurations",
    "TensorBoardOutputConfig",
    "ExperimentConfig",
    "ProfilerConfig",
    "ProfilerRuleConfigurations",
    "Environment",
    "RetryStrategy",
    "RemoteDebugConfig",
    "InfraCheckConfig",
    "ModelPackageConfig",
    "MlflowConfig",
    "ServerlessJobConfig",
)
# Described, accepted by CreateTrainingJob, and still left out, on purpose:
# SessionChainingConfig is not described at all; Tags come from ListTags (below).
TAG_LIMIT = 50  # SageMaker: at most 50 tags on a resource


def retry_tags(tags: Mapping[str, str], base: str, attempt: int) -> list[dict[str, str]]:
    """The original's tags (it stays opted in, with its count), but not ``aws:`` ones (only
    AWS sets those), with which attempt this is and the chain's first job."""
    kept = {k: v for k, v in tags.items() if not k.lower().startswith("aws:")}
    kept[TAG_RETRY_ATTEMPT] = str(attempt)
    kept[TAG_RETRY_OF] = base
    return [{"Key": k, "Value": v} for k, v in kept.items()]


def create_request(description: Record, name: str, tags: list[dict[str, str]]) -> dict[str, object]:
    """CreateTrainingJob's keyword arguments for job ``name`` from a DescribeTrainingJob
    answer: the fields of :data:`COPIED_FIELDS` it has (empty ones left out: SageMaker
    refuses an empty VpcConfig), the new name and ``tags``."""
    request: dict[str, object] = {"TrainingJobName": name}
    for key in COPIED_FIELDS:
        value = description.get(key)
        if value is None or value == {} or value == []:
            continue
        request[key] = value
    if tags:
        request["Tags"] = tags
    return request


# ---- the plan: the lifecycle's Failed branch ----------------------------------------------------
def on_failed(job: JobRecord, failure_reason: str | None, deps: Dependencies, now: float) -> str:
    """What happens about this failed opted-in job: ``""`` when retries do not concern it (no
    retry tag, or not a capacity failure), else a line for its failure email. A retry is
    claimed here (once per run and attempt: a duplicate event claims nothing) and carried
    out by a later tick (:func:`carry_out`)."""
    if TAG_RETRY not in job.tags or not is_opted_in(job.tags):
        return ""
    kind = capacity_kind(failure_reason)
    if kind is None:
        return ""
    try:
        limit = retry_count(job.tags)
    except RetryConfigError as exc:
        return _not_retried(job, deps, now, f"a bad tag: {exc}")
    assert limit is not None
    if not deps.retry_roles:
        return _not_retried(job, deps, now, NOT_ENABLED)
    base, previous = lineage(deps, job)
    attempt = previous + 1
    if attempt > limit:
        return _not_retried(job, deps, now, f"all {limit} retries of the chain are used")
    try:
        name = retry_name(base, attempt)
    except RetryConfigError as exc:
        return _not_retried(job, deps, now, str(exc))
    due = now + backoff_s(attempt)
    action = retry_action(attempt)
    details = {
        "retry": {"attempt": attempt, "limit": limit, "base": base, "name": name, "kind": kind},
        "retry_at": due,
        "at": now,
    }
    ledger = Ledger(deps, now)
    if ledger.claim(job, action, details) is None:
        logger.info("retry already claimed", extra={"action": action})
    else:
        logger.info("capacity retry scheduled", extra={"retry": details["retry"], "due": due})
        ledger.audit(
            job.run,
            _decision(job, kind, attempt, limit, f"scheduled as {name}"),
            Outcome(OutcomeKind.RETRY_SCHEDULED),
            job.mode,
            keep=False,
        )
    return (
        f"attempt {attempt} of {limit} ({kind}), created by trainguard as {name} at "
        f"{iso(due)} ({backoff_s(attempt) / 60:g} min after the failure)"
    )


def _not_retried(job: JobRecord, deps: Dependencies, now: float, why: str) -> str:
    logger.warning("capacity failure not retried", extra={"why": why})
    decision = _decision(job, None, None, None, why)
    outcome = Outcome(OutcomeKind.NOT_RETRIED, why)
    Ledger(deps, now).audit(job.run, decision, outcome, job.mode, keep=False)
    return f"not retried: {why}"


# ---- carrying it out: the tick's resume pass -----------------------------------------------------
def carry_out(ledger: Ledger, job: JobRecord, claim: Claim) -> Outcome:
    """Create the retry claimed on the failed run ``job`` (due now), or say why not; the
    outcome. Safe to repeat at any point."""
    deps = ledger.deps
    plan = dict(record(claim.details.get("retry") or {}))
    attempt, limit = whole(plan["attempt"]), whole(plan["limit"])
    name, base, kind = str(plan["name"]), str(plan["base"]), str(plan.get("kind", ""))
    decision = _decision(
        job, kind, attempt, limit, f"{job.name} failed for capacity; retried as {name}"
    )
    if deps.policy.stops_disabled or deps.config_error or ledger.controls.pause(job.group):
        # the kill switch, a runtime pause (trainguard pause: it holds every action on the
        # group's jobs, not only stops), or a setting that cannot be read: no action now
        ledger.update(claim, retry_at=ledger.now + HOLD_S)
        logger.info("capacity retry held back: trainguard's actions are disabled")
        return Outcome(OutcomeKind.RETRY_HELD, "actions disabled")
    why, description, tags = _recheck(deps, job)
    if why is not None:
        return _refused(ledger, job, claim, decision, Outcome(OutcomeKind.NOT_RETRIED, why))
    request = create_request(description, name, retry_tags(tags, base, attempt))
    chain = {TAG_RETRY_OF: base, TAG_RETRY_ATTEMPT: str(attempt)}
    asked = ask_create(ledger, claim, request, chain)
    if asked.state is Asking.DEFERRED:
        return Outcome(OutcomeKind.RETRY_DEFERRED)
    if asked.state is not Asking.CREATED:
        not_created = Outcome(_NOT_CREATED[asked.state], asked.why)
        return _refused(ledger, job, claim, decision, not_created)
    outcome = Outcome(OutcomeKind.RETRIED)
    logger.info("capacity retry created", extra={"job": name, "attempt": attempt})
    _say(
        ledger,
        job,
        decision,
        outcome,
        key=mail_key(job.run, claim.action, "created"),
        subject=messages.retried_subject(job.name, name, attempt, limit),
        lines={
            "Retry": f"{name} (attempt {attempt} of {limit}, {TAG_RETRY}={limit})",
            "Retry link": messages.console_link(deps.region, name),
        },
    )
    ledger.finish(job.run, claim.action, outcome, created=name)
    return outcome


def _recheck(deps: Dependencies, job: JobRecord) -> tuple[str | None, Record, dict[str, str]]:
    """SageMaker's own word on the failed run, right before the create: why not (None: go),
    its description and its tags."""
    if not deps.retry_roles:
        return NOT_ENABLED, {}, {}
    why, description = describe_run(deps, job, "the failed job no longer exists")
    if why is not None:
        return why, {}, {}
    if description.get("TrainingJobStatus") != "Failed":
        return f"the job is {description.get('TrainingJobStatus')}, not Failed", {}, {}
    reason = description.get("FailureReason")
    if capacity_kind(reason if isinstance(reason, str) else None) is None:
        return "its FailureReason is not a capacity failure", {}, {}
    arn = str(description.get("TrainingJobArn") or job.arn)
    try:
        tags = deps.training_jobs.tags(arn)
    except JobNotFoundError:
        return "the failed job no longer exists", {}, {}
    if not is_opted_in(tags):
        return f"no longer opted in: its {TAG_GROUP} tag is gone", {}, {}
    try:
        if retry_count(tags) is None:
            return f"its {TAG_RETRY} tag is gone", {}, {}
    except RetryConfigError as exc:
        return f"a bad tag: {exc}", {}, {}
    role = str(description.get("RoleArn", ""))
    if not role_allowed(role, deps.retry_roles):
        return f"its role {role} is not among this deployment's retryRoleArns", {}, {}
    return None, description, tags


class Asking(StrEnum):
    """What came of asking CreateTrainingJob for a claim's job (:func:`ask_create`)."""

    CREATED = "created"  # now, or by an earlier try of this very claim
    TAKEN = "taken"  # by a job trainguard did not create
    REFUSED = "refused"  # SageMaker's refusal
    DEFERRED = "deferred"  # a passing error: the claim waits for its retry_at
    GIVEN_UP = "given up"  # passing errors, every try


@frozen
class Asked:
    """What came of asking CreateTrainingJob for a claim's job (:func:`ask_create`), and
    ``why``."""

    state: Asking
    why: str = ""


_NOT_CREATED = {
    Asking.REFUSED: OutcomeKind.RETRY_REFUSED,
    Asking.GIVEN_UP: OutcomeKind.RETRY_GIVEN_UP,
    Asking.TAKEN: OutcomeKind.NOT_RETRIED,
}


def ask_create(ledger: Ledger, claim: Claim, request: Record, chain: Mapping[str, str]) -> Asked:
    """Create the job ``request`` names for ``claim`` (a capacity retry's, a revival's): the
    claim says ``creating`` and counts the try first, so a create that went through before a
    crash is recognised as ours by the next try (the name held by the job this claim asked
    for, with ``chain``'s tags: :func:`is_ours`) and never made twice."""
    tries = claim.tries + 1
    ledger.update(claim, ClaimState.CREATING, tries=tries)
    try:
        result = ledger.deps.training_jobs.create(request)
    except CreateRefused as exc:
        return Asked(Asking.REFUSED, str(exc))
    except Exception as exc:  # throttled, a server error, the account's limit: ask again later
        logger.exception("CreateTrainingJob failed", extra={"tries": tries})
        if tries >= MAX_CREATE_TRIES:
            return Asked(Asking.GIVEN_UP, f"{tries} tries, the last: {type(exc).__name__}: {exc}")
        ledger.update(
            claim, ClaimState.CLAIMED, retry_at=ledger.now + CREATE_TRY_S * 2 ** (tries - 1)
        )
        return Asked(Asking.DEFERRED)
    name = str(request["TrainingJobName"])
    if result == "exists" and not is_ours(ledger.deps, claim, request, chain):
        return Asked(Asking.TAKEN, f"name {name} is taken by a job trainguard did not create")
    return Asked(Asking.CREATED)


def is_ours(deps: Dependencies, claim: Claim, request: Record, chain: Mapping[str, str]) -> bool:
    """The job that holds the requested name is this claim's: an earlier try of this very
    claim asked for it (``claim.tries``: CreateTrainingJob calls before this one), it was
    created after the claim, from the original job's description (its role, output and
    hyperparameters) and with the chain's tags (``chain``). Its tags alone prove nothing: a
    user sets them."""
    if claim.tries == 0:
        return False  # never asked before: whoever holds the name, it is not ours
    try:
        description = deps.training_jobs.describe(str(request["TrainingJobName"]))
        tags = deps.training_jobs.tags(str(description.get("TrainingJobArn", "")))
    except JobNotFoundError:
        return False
    created = epoch_seconds(description.get("CreationTime"), "CreationTime")
    same = all(
        description.get(key) == request.get(key)
        for key in ("RoleArn", "OutputDataConfig", "HyperParameters")
    )
    tagged = all(tags.get(k) == v for k, v in chain.items())
    return created is not None and created >= claim.at and same and tagged


def lineage(deps: Dependencies, job: JobRecord) -> tuple[str, int]:
    """The chain ``job`` belongs to, as trainguard recorded it: its first job's name and which
    attempt ``job`` is (0: the first). A job is a retry only if the run its tags name as its
    parent holds trainguard's claim of that attempt, which created this very job (the claim's
    ``created``, or its plan's name while the create was under way) before it; any other
    job is a chain's first, whatever its ``trainguard:retry-of`` tag says."""
    base = job.tags.get(TAG_RETRY_OF, "").strip()
    attempt = attempt_of(job.tags)
    if not base or attempt < 1:
        return job.name, 0
    try:
        parent = deps.jobs.latest_run(base if attempt == 1 else retry_name(base, attempt - 1))
    except RetryConfigError:
        return job.name, 0
    item = None if parent is None else deps.ledger.get_action(parent.run, retry_action(attempt))
    if parent is None or item is None:
        return job.name, 0
    claim = Claim.from_item(parent.run, retry_action(attempt), item)
    plan = dict(record(claim.details.get("retry") or {}))
    ours = claim.created == job.name or (
        claim.state is ClaimState.CREATING and plan.get("name") == job.name
    )
    if not ours or plan.get("base") != base or job.created_ms < epoch_ms(claim.at):
        logger.warning(
            "a retry-of tag trainguard did not write: the job starts its own chain",
            extra={"retry_of": base, "attempt": attempt},
        )
        return job.name, 0
    return base, attempt


def _refused(
    ledger: Ledger, job: JobRecord, claim: Claim, decision: Decision, outcome: Outcome
) -> Outcome:
    """Said once (audit + email), and the action is closed: never asked again. The subject
    says what (the outcome's headline) and which attempt; the body says why."""
    logger.warning("capacity retry not created", extra={"outcome": outcome.text})
    attempt = f"{decision.value:g} of {decision.threshold:g}"
    _say(
        ledger,
        job,
        decision,
        outcome,
        key=mail_key(job.run, claim.action, "refused"),
        subject=messages.compose_subject(outcome.kind.value, job.name, f": attempt {attempt}"),
        lines={"Attempt": attempt},
    )
    ledger.finish(job.run, claim.action, outcome, ClaimState.REFUSED)
    return outcome


def _say(
    ledger: Ledger,
    job: JobRecord,
    decision: Decision,
    outcome: Outcome,
    *,
    key: str,
    subject: str,
    lines: Mapping[str, str],
) -> None:
    """Audit, then one email through the outbox (its key: the run, the attempt, what)."""
    facts = {
        "Job": f"{job.name} (Failed)",
        "Outcome": outcome.text,
        **lines,
        "Why": decision.reason,
        "Failed with": job.failure_reason or "no FailureReason given",
        "Group": job.group,
        "Instances": instances_text(job.groups),
    }
    message = messages.retry(subject, facts, ledger.deps.region, job.name)
    ledger.announce(job.run, decision, outcome, job.mode, key=key, message=message, keep=False)


def _decision(
    job: JobRecord, kind: str | None, attempt: int | None, limit: int | None, what: str
) -> Decision:
    """The audit's shape for a retry: value = the attempt, threshold = the tag's count."""
    reason = f"{kind}: {what}" if kind else what
    return Decision(
        job=job.name,
        rule=RULE,
        stop=False,
        step=None,
        value=float(attempt) if attempt is not None else None,
        threshold=float(limit) if limit is not None else None,
        references=0,
        reason=reason,
        alert=True,
    )
