"""Deployed wiring and the event router: EventBridge -> Lambda, in this process.

What moto lacks (aws_facts.md 7.3): its EventBridge matches patterns but cannot deliver to a
Lambda target (``put_events`` raises ``NotImplementedError``), never fires schedules, delivers
to DISABLED rules, and its Lambda cannot run Python without Docker.

What this module does instead:

- :class:`Wiring` reads what was deployed, through the API: ``ListRules`` and
  ``ListTargetsByRule`` on the default bus, and for every function ``GetFunctionConfiguration``
  (handler, environment, memory, timeout).
- :class:`EventRouter` routes an event to every ENABLED rule whose pattern matches it, using
  moto's own matcher (``moto.events.models.EventPattern``), and invokes each Lambda target's
  handler **in this process**: it imports the handler module from the Lambda asset folder
  (the repo's ``lambdas/``, or the asset folder of ``cdk.out`` that holds the handler's module),
  sets the function's environment plus the emulator's endpoint and dummy credentials for the
  duration of the call (``POWERTOOLS_TRACE_DISABLED=true``: no X-Ray locally), and passes the
  fake :class:`LambdaContext` (:mod:`.lambda_context`). A target's constant ``Input`` replaces
  the event and a simple ``InputPath`` (``$``, ``$.a.b``) selects part of it, as EventBridge
  does; ``InputTransformer`` and non-Lambda targets are not supported (counted in
  ``EventRouter.skipped``).
- Every call is an :class:`Invocation`: the handler's result, its log lines (stdout, stderr and
  stream log handlers, e.g. Powertools' JSON lines), the AWS calls it made (``Service.Operation``
  -> count) and, if it raised, the exception. A raised exception is a failed invocation: it is
  recorded in ``EventRouter.failures`` (the stand-in for the target's dead-letter queue) and the
  run goes on. Failed invocations are not retried (Lambda would retry an async invocation twice;
  the handlers are idempotent, so the outcome of a run does not depend on it).
- Schedule rules (``rate(N minute|minutes|hour|hours|day|days)``) fire on :meth:`EventRouter.tick`
  with the EventBridge "Scheduled Event" shape; see ``tick`` for the exact semantics. ``cron(...)``
  rules are listed in ``Wiring.unsupported`` and never fire.
- SQS event sources (``ListEventSourceMappings``: the sharded tick's shard queue) are polled
  by :meth:`EventRouter.drain_queues` after every tick: each message goes to its function in
  this process in the SQS event shape (batch size as deployed); a message the function lists
  in ``batchItemFailures`` (or all of them, if it raised) is made visible again and received
  again at the next drain, and moto moves it to the dead-letter queue after the queue's
  ``maxReceiveCount``. The mappings are disabled in the emulator when the wiring is read, so
  that moto itself never tries to run the function (it would need Docker).
- Handlers may cache boto3 clients per module: before invoking a module under an environment
  different from its previous call, the router calls ``reset_dependencies()`` of the handler
  module, or else of its nearest parent package that has one (``trainguard.handlers``).

Invocations run one at a time on the caller's thread (``os.environ`` is process-wide). Events a
handler causes (a ``StopTrainingJob`` makes the SageMaker shim queue a state change) are queued
by their source and delivered by :meth:`EventRouter.pump`, never re-entrantly.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import io
import json
import logging
import re
import sys
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

from trainguard import constants

from .clock import as_utc, iso_z
from .emulator import ACCOUNT_ID, REGION, emulator_env, make_client, patched_environ
from .lambda_context import LambdaContext

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_lambda import LambdaClient

#: Logical names accepted wherever a function is named, mapped to their handler path.
LOGICAL_FUNCTIONS: Mapping[str, str] = {
    "lifecycle": constants.LIFECYCLE_HANDLER,
    "evaluator": constants.EVALUATOR_HANDLER,
    "alert": constants.ALERT_HANDLER,
    "shard": constants.SHARD_HANDLER,
}

#: The repo's Lambda asset folder (the package ``trainguard`` lives in it).
REPO_LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


class EventSource(Protocol):
    """Anything that queues events for the router (e.g. the SageMaker shim)."""

    def take_events(self) -> list[dict[str, Any]]: ...


class WiringError(LookupError):
    """The deployed wiring does not have what was asked for."""


# --- the deployed wiring ----------------------------------------------------------------------
@dataclass(frozen=True)
class QueueSource:
    """An SQS event source mapping: the queue, its function, how it is delivered."""

    queue_arn: str
    function_arn: str
    batch_size: int = 10
    report_failures: bool = False

    @property
    def queue_name(self) -> str:
        return self.queue_arn.rsplit(":", 1)[-1]


@dataclass(frozen=True)
class DeployedFunction:
    """A function as the emulator holds it (``GetFunctionConfiguration``)."""

    name: str
    arn: str
    handler: str  # "package.module.function", relative to the asset folder
    environment: Mapping[str, str]
    memory_mb: int = 128
    timeout_s: int = 3


@dataclass(frozen=True)
class RuleTarget:
    id: str
    arn: str
    input: str | None = None
    input_path: str | None = None
    input_transformer: bool = False
    dead_letter_arn: str | None = None


@dataclass(frozen=True)
class DeployedRule:
    """An EventBridge rule on the default bus with its targets."""

    name: str
    arn: str
    state: str
    event_pattern: Mapping[str, Any] | None
    schedule: str | None
    targets: tuple[RuleTarget, ...] = ()

    @property
    def enabled(self) -> bool:
        return self.state == "ENABLED"

    @property
    def rate(self) -> timedelta | None:
        """The period of a ``rate(...)`` schedule, else None."""
        match = _RATE.match(self.schedule or "")
        if not match:
            return None
        count, unit = int(match.group(1)), match.group(2).rstrip("s")
        return timedelta(seconds=count * _UNIT_SECONDS[unit])


def function_name_from_arn(arn: str) -> str:
    """``arn:aws:lambda:R:A:function:NAME[:QUALIFIER]`` -> ``NAME`` (a bare name passes through)."""
    parts = arn.split(":")
    if len(parts) >= 7 and parts[2] == "lambda" and parts[5] == "function":
        return parts[6]
    return arn


@dataclass
class Wiring:
    """What the stack deployed into the emulator: rules with targets, and functions."""

    rules: list[DeployedRule]
    functions: dict[str, DeployedFunction]  # by function name
    unsupported: list[str] = field(default_factory=list)  # rules the router cannot run
    queues: list[QueueSource] = field(default_factory=list)  # SQS event sources

    @classmethod
    def read(cls, endpoint_url: str, region: str = REGION) -> Wiring:
        """Read rules, targets and function configurations from the emulator's API."""
        events: EventBridgeClient = make_client("events", endpoint_url, region)
        lam: LambdaClient = make_client("lambda", endpoint_url, region)
        functions: dict[str, DeployedFunction] = {}
        listed = (
            fn
            for page in lam.get_paginator("list_functions").paginate()
            for fn in page["Functions"]
        )
        for summary in listed:
            cfg = lam.get_function_configuration(FunctionName=summary["FunctionName"])
            functions[cfg["FunctionName"]] = DeployedFunction(
                name=cfg["FunctionName"],
                arn=cfg["FunctionArn"],
                handler=cfg.get("Handler", ""),
                environment=dict(cfg.get("Environment", {}).get("Variables", {})),
                memory_mb=int(cfg.get("MemorySize", 128)),
                timeout_s=int(cfg.get("Timeout", 3)),
            )
        rules: list[DeployedRule] = []
        unsupported: list[str] = []
        targets_of = events.get_paginator("list_targets_by_rule")
        listed_rules = (
            rule for page in events.get_paginator("list_rules").paginate() for rule in page["Rules"]
        )
        for raw in listed_rules:
            targets = tuple(
                RuleTarget(
                    id=t["Id"],
                    arn=t["Arn"],
                    input=t.get("Input"),
                    input_path=t.get("InputPath"),
                    input_transformer="InputTransformer" in t,
                    dead_letter_arn=t.get("DeadLetterConfig", {}).get("Arn"),
                )
                for page in targets_of.paginate(Rule=raw["Name"])
                for t in page["Targets"]
            )
            rule = DeployedRule(
                name=raw["Name"],
                arn=raw["Arn"],
                state=raw.get("State", "ENABLED"),
                event_pattern=json.loads(raw["EventPattern"]) if raw.get("EventPattern") else None,
                schedule=raw.get("ScheduleExpression"),
                targets=targets,
            )
            if rule.schedule and rule.rate is None:
                unsupported.append(
                    f"{rule.name}: schedule {rule.schedule!r} (only rate(...) ticks)"
                )
            rules.append(rule)
        queues: list[QueueSource] = []
        listed_mappings = (
            m
            for page in lam.get_paginator("list_event_source_mappings").paginate()
            for m in page["EventSourceMappings"]
        )
        for mapping in listed_mappings:
            arn = str(mapping.get("EventSourceArn", ""))
            if ":sqs:" not in arn:
                continue
            if mapping.get("State") not in ("Disabled", "Disabling"):
                # the router polls the queue itself: moto would try to run the function
                lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
            queues.append(
                QueueSource(
                    queue_arn=arn,
                    function_arn=str(mapping["FunctionArn"]),
                    batch_size=int(mapping.get("BatchSize") or 10),
                    report_failures="ReportBatchItemFailures"
                    in (mapping.get("FunctionResponseTypes") or []),
                )
            )
        return cls(rules=rules, functions=functions, unsupported=unsupported, queues=queues)

    def function(self, ref: str) -> DeployedFunction:
        """A function by name, ARN, or logical name (``lifecycle``/``evaluator``/``alert``:
        the function whose handler is that role's handler path)."""
        name = function_name_from_arn(ref)
        if name in self.functions:
            return self.functions[name]
        handler = LOGICAL_FUNCTIONS.get(ref.lower())
        if handler:
            matches = [f for f in self.functions.values() if f.handler == handler]
            if len(matches) == 1:
                return matches[0]
        matches = [f for f in self.functions.values() if ref.lower() in f.name.lower()]
        if len(matches) == 1:
            return matches[0]
        known = ", ".join(sorted(self.functions)) or "none"
        raise WiringError(f"no single deployed function matches {ref!r} (deployed: {known})")

    def rule(self, name: str) -> DeployedRule:
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise WiringError(f"no deployed rule named {name!r}")


# --- where the code is ---------------------------------------------------------------------------
def asset_code_roots(cdk_out: Path) -> list[Path]:
    """The directory assets named in ``cdk.out/*.assets.json`` (each a candidate code root)."""
    roots: list[Path] = []
    for manifest in sorted(Path(cdk_out).glob("*.assets.json")):
        files = json.loads(manifest.read_text(encoding="utf-8")).get("files", {})
        for entry in files.values():
            source = entry.get("source", {})
            if source.get("packaging") == "zip" and source.get("path"):
                path = (Path(cdk_out) / source["path"]).resolve()
                if path.is_dir():
                    roots.append(path)
    return roots


def code_root_for(handler: str, candidates: Sequence[Path]) -> Path | None:
    """The first candidate folder that holds the handler's module file."""
    module = handler.rsplit(".", 1)[0].replace(".", "/")
    for root in candidates:
        if (root / f"{module}.py").is_file() or (root / module / "__init__.py").is_file():
            return root
    return None


# --- one invocation ----------------------------------------------------------------------------
@dataclass
class Invocation:
    """One in-process call of a deployed function."""

    function: str
    trigger: str  # "rule:<name>", "schedule:<name>", "alarm:<name>" or "direct"
    event: Any
    request_id: str
    result: Any = None
    error: str | None = None  # "ExceptionType: message" when the handler raised
    traceback: str | None = None
    logs: list[str] = field(default_factory=list)
    aws_calls: dict[str, int] = field(default_factory=dict)
    duration_ms: float = 0.0
    dead_letter_arn: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "function": self.function,
            "trigger": self.trigger,
            "request_id": self.request_id,
            "ok": self.ok,
            "result": self.result,
            "error": self.error,
            "traceback": self.traceback,
            "logs": self.logs,
            "aws_calls": self.aws_calls,
            "duration_ms": round(self.duration_ms, 3),
            "notes": self.notes,
        }


# AWS-call counting: one process-wide wrapper of botocore's BaseClient._make_api_call that counts
# into whichever Counter is active (a ContextVar), so clients built from any session are seen.
_active_calls: contextvars.ContextVar[Counter[str] | None] = contextvars.ContextVar(
    "trainguard_local_aws_calls", default=None
)
_counting_installed = False


def _install_call_counter() -> None:
    global _counting_installed
    if _counting_installed:
        return
    from botocore.client import BaseClient

    original = BaseClient._make_api_call  # type: ignore[attr-defined]

    def _make_api_call(self: Any, operation_name: str, api_params: Any) -> Any:
        counter = _active_calls.get()
        if counter is not None:
            counter[f"{self.meta.service_model.service_id}.{operation_name}"] += 1
        return original(self, operation_name, api_params)

    BaseClient._make_api_call = _make_api_call  # type: ignore[attr-defined]
    _counting_installed = True


@contextlib.contextmanager
def count_aws_calls() -> Iterator[Counter[str]]:
    """Count every botocore API call made in the block (``"SageMaker.StopTrainingJob"`` -> n)."""
    _install_call_counter()
    counter: Counter[str] = Counter()
    token = _active_calls.set(counter)
    try:
        yield counter
    finally:
        _active_calls.reset(token)


@contextlib.contextmanager
def capture_output() -> Iterator[io.StringIO]:
    """Capture stdout, stderr, and every stream log handler writing to them, into one buffer."""
    buffer = io.StringIO()
    streams = {id(s) for s in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__) if s}
    loggers: list[logging.Logger] = [logging.getLogger()]
    loggers += [
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    swapped: list[tuple[logging.StreamHandler[Any], Any]] = []
    for lg in loggers:
        for handler in lg.handlers:
            if isinstance(handler, logging.StreamHandler) and id(handler.stream) in streams:
                swapped.append((handler, handler.stream))
                handler.setStream(buffer)
    try:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            yield buffer
    finally:
        for handler, stream in swapped:
            handler.setStream(stream)


def _find_reset(module_name: str) -> Callable[[], Any] | None:
    """``reset_dependencies`` of the handler module, else of its nearest parent package."""
    parts = module_name.split(".")
    while parts:
        module = sys.modules.get(".".join(parts))
        reset = getattr(module, "reset_dependencies", None)
        if callable(reset):
            return reset  # type: ignore[no-any-return]
        parts.pop()
    return None


def _select(event: Any, path: str) -> Any:
    """A minimal JSONPath for ``InputPath``: ``$`` or ``$.a.b``."""
    if path in ("$", ""):
        return event
    node = event
    for part in path.removeprefix("$.").split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


# --- the router ---------------------------------------------------------------------------------
class EventRouter:
    """Routes events and schedule ticks to deployed functions, run in this process.

    Usage::

        wiring = Wiring.read(emu.endpoint_url)
        router = EventRouter(wiring, endpoint_url=emu.endpoint_url, sources=[shim])
        router.pump()                 # deliver every event the shim queued (and what they cause)
        router.tick(clock.now())      # fire the schedule rules that are due
        router.invoke("alert", payload, trigger="alarm:...")   # a direct (alarm action) call
        router.failures               # the failed invocations (the DLQ stand-in)
    """

    def __init__(
        self,
        wiring: Wiring,
        *,
        endpoint_url: str,
        region: str = REGION,
        account_id: str = ACCOUNT_ID,
        code_roots: Sequence[Path] | None = None,
        cdk_out: Path | None = None,
        sources: Sequence[EventSource] = (),
        extra_env: Mapping[str, str] | None = None,
        on_invocation: Callable[[Invocation], None] | None = None,
        before_invoke: Callable[[ModuleType, DeployedFunction], None] | None = None,
    ) -> None:
        """``code_roots``: folders to look for handler modules in, in order (default: the
        directory assets of ``cdk_out`` if given, then the repo's ``lambdas/``).
        ``on_invocation``: called with every finished :class:`Invocation` (progress display).
        ``before_invoke``: called with the handler module and function just before each call,
        inside the function's environment (e.g. to give the runtime's dependencies the run's
        clock)."""
        self.wiring = wiring
        self.endpoint_url = endpoint_url
        self.region = region
        self.account_id = account_id
        roots = list(code_roots) if code_roots is not None else []
        if code_roots is None:
            roots = [*(asset_code_roots(cdk_out) if cdk_out else []), REPO_LAMBDAS]
        self.code_roots = roots
        self.sources = list(sources)
        self.extra_env = dict(extra_env or {})
        self.on_invocation = on_invocation
        self.before_invoke = before_invoke
        self.invocations: list[Invocation] = []
        self.failures: list[Invocation] = []
        self.skipped: Counter[str] = Counter()  # unsupported targets / transformers, by reason
        self._last_fired: dict[str, datetime] = {}
        self._module_env: dict[str, dict[str, str]] = {}
        self._patterns: dict[str, Any] = {}

    # --- events ---------------------------------------------------------------------------
    def matching_rules(self, event: Mapping[str, Any]) -> list[DeployedRule]:
        """The ENABLED pattern rules whose pattern matches ``event`` (moto's matcher)."""
        from moto.events.models import EventPattern

        matched = []
        for rule in self.wiring.rules:
            if not rule.enabled or rule.event_pattern is None:
                continue
            pattern = self._patterns.get(rule.name)
            if pattern is None:
                pattern = EventPattern.load(json.dumps(rule.event_pattern))
                self._patterns[rule.name] = pattern
            if pattern.matches_event(dict(event)):  # type: ignore[arg-type]
                matched.append(rule)
        return matched

    def route(self, event: Mapping[str, Any]) -> list[Invocation]:
        """Deliver one event to the targets of every matching rule; return the invocations."""
        done = []
        for rule in self.matching_rules(event):
            done += self._deliver(rule, dict(event), trigger=f"rule:{rule.name}")
        return done

    def pump(self, *, max_rounds: int = 1000) -> list[Invocation]:
        """Route every event the sources queued, and the events those invocations cause, until
        the sources are quiet. ``max_rounds`` guards against a handler loop."""
        done: list[Invocation] = []
        for _ in range(max_rounds):
            batch = [event for source in self.sources for event in source.take_events()]
            if not batch:
                return done
            for event in batch:
                done += self.route(event)
        raise RuntimeError(f"events still queued after {max_rounds} rounds: a handler loop?")

    # --- schedules ------------------------------------------------------------------------
    def tick(self, now: datetime) -> list[Invocation]:
        """Fire the ENABLED ``rate(...)`` rules that are due at ``now`` (the run's clock).

        A rule fires at its first tick, then whenever at least one period has elapsed since its
        last due time; it fires once per tick even if several periods elapsed (no catch-up
        burst), and its next due time stays on the grid (first tick + k x rate), so ticking
        every simulated minute fires ``rate(1 minute)`` every tick and ``rate(5 minutes)`` every
        fifth. The event's ``time`` is the due time. Events queued by the invocations are
        pumped before returning.
        """
        now = as_utc(now)
        done: list[Invocation] = []
        for rule in self.wiring.rules:
            rate = rule.rate
            if not rule.enabled or rate is None:
                continue
            last = self._last_fired.get(rule.name)
            if last is None:
                due = now
            elif now - last >= rate:
                due = last + rate * ((now - last) // rate)
            else:
                continue
            self._last_fired[rule.name] = due
            done += self._deliver(
                rule, self.scheduled_event(rule, due), trigger=f"schedule:{rule.name}"
            )
        done += self.pump()
        drained = self.drain_queues()
        return done + drained + (self.pump() if drained else [])

    # --- queues ---------------------------------------------------------------------------
    def drain_queues(self) -> list[Invocation]:
        """Deliver every message waiting in the SQS event sources' queues (the shard queue),
        each message at most once per drain; what failed is received again next drain."""
        done: list[Invocation] = []
        if not self.wiring.queues:
            return done
        sqs = make_client("sqs", self.endpoint_url, self.region)
        for source in self.wiring.queues:
            url = sqs.get_queue_url(QueueName=source.queue_name)["QueueUrl"]
            seen: set[str] = set()
            retry: list[str] = []
            while True:
                got = sqs.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=max(1, min(10, source.batch_size)),
                    VisibilityTimeout=600,
                    AttributeNames=["All"],
                ).get("Messages", [])
                fresh = [m for m in got if m["MessageId"] not in seen]
                if not fresh:
                    break
                seen.update(m["MessageId"] for m in fresh)
                for k in range(0, len(fresh), max(1, source.batch_size)):
                    batch = fresh[k : k + max(1, source.batch_size)]
                    inv = self.invoke(
                        source.function_arn,
                        {"Records": [self._sqs_record(m, source) for m in batch]},
                        trigger=f"sqs:{source.queue_name}",
                    )
                    done.append(inv)
                    failed = {m["MessageId"] for m in batch} if not inv.ok else set()
                    if inv.ok and source.report_failures and isinstance(inv.result, Mapping):
                        failed = {
                            str(f.get("itemIdentifier"))
                            for f in inv.result.get("batchItemFailures") or []
                        }
                    for m in batch:
                        if m["MessageId"] in failed:
                            retry.append(m["ReceiptHandle"])
                        else:
                            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            for handle in retry:  # visible again: the next drain receives it again
                sqs.change_message_visibility(
                    QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0
                )
        return done

    def _sqs_record(self, message: Mapping[str, Any], source: QueueSource) -> dict[str, Any]:
        """One record of Lambda's SQS event."""
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": dict(message.get("Attributes", {})),
            "messageAttributes": {},
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": source.queue_arn,
            "awsRegion": self.region,
        }

    def scheduled_event(self, rule: DeployedRule, due: datetime) -> dict[str, Any]:
        """EventBridge's "Scheduled Event" for ``rule`` at ``due``."""
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": self.account_id,
            "time": iso_z(due),
            "region": self.region,
            "resources": [rule.arn],
            "detail": {},
        }

    # --- invocation -----------------------------------------------------------------------
    def _deliver(
        self, rule: DeployedRule, event: dict[str, Any], *, trigger: str
    ) -> list[Invocation]:
        done = []
        for target in rule.targets:
            if ":lambda:" not in target.arn:
                self.skipped[f"non-Lambda target {target.arn}"] += 1
                continue
            if target.input_transformer:
                self.skipped[f"InputTransformer on {rule.name}/{target.id}"] += 1
                continue
            payload: Any = event
            if target.input is not None:
                payload = json.loads(target.input)
            elif target.input_path:
                payload = _select(event, target.input_path)
            inv = self.invoke(target.arn, payload, trigger=trigger)
            inv.dead_letter_arn = target.dead_letter_arn
            done.append(inv)
        return done

    def invoke(self, function: str, event: Any, *, trigger: str = "direct") -> Invocation:
        """Run one deployed function (name, ARN or logical name) on ``event``, in this process."""
        fn = self.wiring.function(function)
        context = LambdaContext(
            function_name=fn.name,
            invoked_function_arn=fn.arn,
            memory_limit_in_mb=fn.memory_mb,
            timeout_s=fn.timeout_s,
        )
        inv = Invocation(
            function=fn.name, trigger=trigger, event=event, request_id=context.aws_request_id
        )
        env = self.function_env(fn)
        began = time.perf_counter()
        with patched_environ(env), capture_output() as out, count_aws_calls() as calls:
            try:
                handler = self._load_handler(fn, env, inv)
                inv.result = handler(event, context)
            except Exception as exc:  # a failed invocation: recorded, the run goes on
                inv.error = f"{type(exc).__name__}: {exc}"
                inv.traceback = traceback.format_exc()
        inv.duration_ms = (time.perf_counter() - began) * 1000
        inv.logs = out.getvalue().splitlines()
        inv.aws_calls = dict(sorted(calls.items()))
        self.invocations.append(inv)
        if not inv.ok:
            self.failures.append(inv)
        if self.on_invocation is not None:
            self.on_invocation(inv)
        return inv

    def function_env(self, fn: DeployedFunction) -> dict[str, str]:
        """The environment of an invocation: Lambda's own variables, the function's, then the
        emulator's endpoint and credentials, then ``extra_env``."""
        return {
            "AWS_LAMBDA_FUNCTION_NAME": fn.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.name}",
            **fn.environment,
            "POWERTOOLS_TRACE_DISABLED": "true",
            # the emulated clock runs faster than the wall's: no cache of the runtime controls
            "POWERTOOLS_PARAMETERS_MAX_AGE": "0",
            **emulator_env(self.endpoint_url, self.region),
            **self.extra_env,
        }

    def _load_handler(
        self, fn: DeployedFunction, env: dict[str, str], inv: Invocation
    ) -> Callable[..., Any]:
        module_name, _, attr = fn.handler.rpartition(".")
        if not module_name:
            raise WiringError(f"{fn.name}: handler {fn.handler!r} is not module.function")
        root = code_root_for(fn.handler, self.code_roots)
        if root is None:
            raise WiringError(f"{fn.name}: no code root holds {module_name} ({self.code_roots})")
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
        module = importlib.import_module(module_name)
        source = Path(getattr(module, "__file__", "") or "").resolve()
        if root not in source.parents:
            # The package was imported earlier from another folder (e.g. the repo's lambdas/
            # while the asset is a copy of it); one process holds one copy of a module.
            inv.notes.append(f"{module_name} loaded from {source}, not from {root}")
        reset = _find_reset(module_name)
        # Keyed by the reset function, not the handler module: handlers of one package share
        # its cache (trainguard.handlers), so a call of another function with another
        # environment must drop what the previous function built.
        key = f"{getattr(reset, '__module__', '')}.{getattr(reset, '__qualname__', '')}"
        if reset is not None and self._module_env.get(key) != env:
            reset()
        self._module_env[key if reset is not None else module_name] = env
        if self.before_invoke is not None:
            self.before_invoke(module, fn)
        handler = getattr(module, attr, None)
        if not callable(handler):
            raise WiringError(f"{fn.name}: {module_name} has no callable {attr!r}")
        return handler  # type: ignore[no-any-return]
