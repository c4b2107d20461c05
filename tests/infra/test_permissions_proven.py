"""Permissions proven (issue 21): every AWS call each function makes, across the integration
tests' scenarios run through the real handlers on moto, is allowed by that function's role in
the synthesized template (action, resource, and the conditions it carries), and the shard
queue's policy does not refuse the planner's sends. A call a role does not allow fails here,
not on the first real tick.

The calls are recorded with a botocore hook (``before-parameter-build``, the API parameters
as the function passed them) on the harness's clients, which are the functions' own
(``trainguard.adapters.aws``), attributed to the function whose handler is running. The
scenarios: references completed and their alarms deleted (lifecycle), a stop in enforce and
a report in observe (evaluator), a sharded tick whose shard stops a job (evaluator, shard), a
GPU-idle alarm opened and closed (alert), a capacity retry created (lifecycle, evaluator),
the weekly digest. Also: a stop on a job without the opt-in tag is not allowed, audit items
cannot be updated or deleted, the health alarms cannot be touched, and only the planner may
send shards."""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from iam_check import Account, Request, Template, allowed, denied, requests_of
from infra_synth import CDK_JSON_CONTEXT, synthesize

INTEGRATION = Path(__file__).resolve().parents[1] / "integration"
if str(INTEGRATION) not in sys.path:
    sys.path.insert(0, str(INTEGRATION))

from runtime_support import Aws, LambdaContext, moto_aws, state_change  # noqa: E402

from trainguard import constants as c  # noqa: E402
from trainguard.adapters import SqsShardQueue  # noqa: E402
from trainguard.config import Policy  # noqa: E402
from trainguard.handlers import alert, digest, evaluator, lifecycle, shard  # noqa: E402
from trainguard_local.lambda_context import ACCOUNT_ID  # noqa: E402
from trainguard_local.moto_harness import ROLE_ARN, scheduled_event  # noqa: E402

pytestmark = [pytest.mark.infra, pytest.mark.integration]

LIFECYCLE, EVALUATOR = c.LIFECYCLE_FUNCTION_NAME, c.EVALUATOR_FUNCTION_NAME
ALERT, SHARD, DIGEST = c.ALERT_FUNCTION_NAME, c.SHARD_FUNCTION_NAME, c.DIGEST_FUNCTION_NAME
SHARD_QUEUE = "trainguard-shards"
OBJ = "val_loss"
REF_CURVES = [
    [1.0 - 0.035 * i for i in range(20)],
    [0.9 - 0.030 * i for i in range(20)],
    [1.1 - 0.040 * i for i in range(20)],
]
BAD_CURVE = [1.3 - 0.01 * i for i in range(12)]
TLS = {"aws:SecureTransport": ["true"]}  # the functions' clients call over HTTPS
CAPACITY = "CapacityError: Unable to provision requested ML compute capacity."


def ctx() -> LambdaContext:
    return LambdaContext()


def tags(group: str, **extra: str) -> dict[str, str]:
    return {c.TAG_GROUP: group, c.TAG_OBJECTIVE: OBJ, **extra}


@dataclass
class Recorder:
    """The calls made while a function's handler runs: (function, service, operation, params)."""

    calls: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)
    current: str | None = None

    def attach(self, aws: Aws) -> None:
        for service in ("dynamodb", "cloudwatch", "sagemaker", "sns", "sqs"):
            client = getattr(aws, service)
            client.meta.events.register("before-parameter-build", partial(self._hook, service))

    def _hook(self, service: str, params: dict[str, Any], model: Any, **_: Any) -> None:
        if self.current is not None:
            self.calls.append((self.current, service, model.name, copy.deepcopy(params)))

    @contextmanager
    def function(self, name: str) -> Iterator[None]:
        self.current = name
        try:
            yield
        finally:
            self.current = None

    def run(self, name: str, handler: Callable[..., Any], event: Any, deps: Any) -> Any:
        with self.function(name):
            return handler(event, ctx(), deps=deps)


@dataclass
class Proof:
    template: Template
    calls: list[tuple[str, str, str, dict[str, Any]]]
    tags: dict[str, dict[str, str]]  # every training job's tags at the end

    def statements(self, function: str) -> list[dict[str, Any]]:
        return self.template.role_statements(self.template.role_of_function(function))

    def refused(
        self, statements_of: Callable[[str], list[dict[str, Any]]] | None = None
    ) -> list[str]:
        """Every call whose request its function's role does not allow (or the shard
        queue's policy refuses), said."""
        acct, out = self.template.account, []
        statements_of = statements_of or self.statements
        queue = _shard_queue_logical(self.template)
        for fn, service, op, params in self.calls:
            for request in requests_of(acct, service, op, params, self._tags_of):
                if not allowed(statements_of(fn), request):
                    out.append(f"{fn}: {op} -> {request}")
                if request.action == "sqs:SendMessage" and request.resource == acct.shard_queue_arn:
                    role = acct.arn("iam", f"role/{self.template.role_of_function(fn)}")
                    as_role = replace(request, context={"aws:PrincipalArn": [role], **TLS})
                    if denied(self.template.queue_policy(queue), as_role):
                        out.append(f"{fn}: {op} refused by the shard queue's policy")
        return out

    def _tags_of(self, name: str) -> dict[str, str]:
        return self.tags.get(name, {})


def _shard_queue_logical(template: Template) -> str:
    (queue,) = [
        k
        for k, v in template.resources.items()
        if v["Type"] == "AWS::SQS::Queue"
        and k.startswith("FunctionsShardQueue")
        and "RedrivePolicy" in v.get("Properties", {})
    ]
    return queue


def _scenarios(aws: Aws, rec: Recorder, queue_url: str) -> None:
    enforce = Policy.from_mapping({"mode": "enforce", "median": {"enabled": True}})
    deps = aws.deps(enforce, retry_roles=(ROLE_ARN,))
    now = aws.now()
    # references: InProgress (GPU alarms created) -> Completed (curve read, alarms deleted)
    for k, values in enumerate(REF_CURVES * 2):
        name, group = f"ref-{k}", "digits" if k < len(REF_CURVES) else "vision"
        start = now - 4 * 3600 + k * 1800
        arn = aws.create_job(name, tags(group), start=start)
        aws.put_curve(name, OBJ, start, values)
        event = state_change(name, "InProgress", arn=arn, start=start, tags=tags(group))
        rec.run(LIFECYCLE, lifecycle.handler, event, deps)
        aws.set_status(name, "Completed")
        done = state_change(name, "Completed", arn=arn, start=start, end=start + 21 * 60)
        rec.run(LIFECYCLE, lifecycle.handler, done, deps)
    # a stop in enforce, a report in observe: the evaluator's tick judges them itself
    for name, extra in (("bad", {}), ("watched", {"trainguard:mode": "observe"})):
        start = aws.now() - 13 * 60
        arn = aws.create_job(name, tags("digits", **extra), start=start)
        aws.put_curve(name, OBJ, start, BAD_CURVE)
        event = state_change(name, "InProgress", arn=arn, start=start, tags=tags("digits", **extra))
        rec.run(LIFECYCLE, lifecycle.handler, event, deps)
    assert rec.run(EVALUATOR, evaluator.handler, {}, deps)["stops"] == 1
    aws.set_status("bad", "Stopped")
    stopped = state_change("bad", "Stopped", start=aws.now() - 13 * 60, end=aws.now())
    rec.run(LIFECYCLE, lifecycle.handler, stopped, deps)
    # a GPU-idle alarm opened and closed
    payload = aws.alarm_payload(f"{c.GPU_IDLE_ALARM_PREFIX}watched-algo-1", "ALARM")
    del payload["time"]
    rec.run(ALERT, alert.handler, payload, deps)
    ok = {**payload, "alarmData": {**payload["alarmData"], "state": {"value": "OK"}}}
    rec.run(ALERT, alert.handler, ok, deps)
    # a capacity failure retried: the lifecycle plans it, the tick creates it
    aws.create_job("cap", tags("vision", **{c.TAG_RETRY: "1"}))
    for event in aws.shim.take_events():
        rec.run(LIFECYCLE, lifecycle.handler, event, deps)
    aws.shim.fail("cap", CAPACITY)
    for event in aws.shim.take_events():
        rec.run(LIFECYCLE, lifecycle.handler, event, deps)
    aws.advance(3 * 60)
    rec.run(EVALUATOR, evaluator.handler, {}, deps)
    made = aws.sagemaker.list_training_jobs(NameContains="cap-retry")["TrainingJobSummaries"]
    assert [j["TrainingJobName"] for j in made] == ["cap-retry-1"]
    # a sharded tick (shards of one job): the planner sends, a shard stops
    sharded = replace(deps, shards=SqsShardQueue(aws.sqs, queue_url), shard_size=1)
    start = aws.now() - 13 * 60
    arn = aws.create_job("worse", tags("vision"), start=start)
    aws.put_curve("worse", OBJ, start, BAD_CURVE)
    event = state_change("worse", "InProgress", arn=arn, start=start, tags=tags("vision"))
    rec.run(LIFECYCLE, lifecycle.handler, event, sharded)
    assert rec.run(EVALUATOR, evaluator.handler, scheduled_event(aws.now()), sharded)["shards"] >= 2
    stops = 0
    while got := aws.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
        "Messages", []
    ):
        for m in got:
            record = {"messageId": m["MessageId"], "body": m["Body"], "eventSource": "aws:sqs"}
            out = rec.run(SHARD, shard.handler, {"Records": [record]}, sharded)
            stops += sum(s.get("stops", 0) for s in out["shards"])
            aws.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
    assert stops == 1
    # the weekly digest
    rec.run(DIGEST, digest.handler, scheduled_event(aws.now(), rule=c.DIGEST_RULE_NAME), deps)


@pytest.fixture(scope="module")
def proof(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proof]:
    context = {**CDK_JSON_CONTEXT, "alertEmail": "ml@example.com", "retryRoleArns": [ROLE_ARN]}
    synthesized = synthesize(context, tmp_path_factory.mktemp("cdk.out.proof"))
    worlds = moto_aws()
    aws = next(worlds)
    try:
        url = aws.sqs.create_queue(QueueName=SHARD_QUEUE)["QueueUrl"]
        account = Account(
            region=aws.region,
            account=ACCOUNT_ID,
            table=aws.table,
            topic_arn=aws.topic_arn,
            shard_queue_arn=f"arn:aws:sqs:{aws.region}:{ACCOUNT_ID}:{SHARD_QUEUE}",
        )
        rec = Recorder()
        rec.attach(aws)
        _scenarios(aws, rec, url)
        jobs = aws.sagemaker.list_training_jobs(MaxResults=100)["TrainingJobSummaries"]
        job_tags = {
            j["TrainingJobName"]: {
                t["Key"]: t["Value"]
                for t in aws.sagemaker.list_tags(ResourceArn=j["TrainingJobArn"])["Tags"]
            }
            for j in jobs
        }
        yield Proof(Template(synthesized.template_json, account), rec.calls, job_tags)
    finally:
        worlds.close()


def test_every_call_of_every_function_is_allowed_by_its_role(proof: Proof) -> None:
    made = {(fn, op) for fn, _, op, _ in proof.calls}
    # the scenarios reach what each function does (so that the proof covers it)
    assert {
        (LIFECYCLE, "PutMetricAlarm"),
        (LIFECYCLE, "DeleteAlarms"),
        (LIFECYCLE, "GetMetricData"),
        (LIFECYCLE, "TransactWriteItems"),
        (EVALUATOR, "StopTrainingJob"),
        (EVALUATOR, "CreateTrainingJob"),
        (EVALUATOR, "SendMessageBatch"),
        (EVALUATOR, "PutItem"),
        (SHARD, "StopTrainingJob"),
        (SHARD, "DescribeTrainingJob"),
        (ALERT, "Publish"),
        (DIGEST, "Query"),
    } <= made, sorted(made)
    audit_puts = [
        p
        for fn, _, op, p in proof.calls
        if op == "PutItem" and p["Item"]["pk"]["S"].startswith("AUDIT#")
    ]
    assert audit_puts and all(
        "attribute_not_exists" in p["ConditionExpression"] for p in audit_puts
    )
    assert proof.refused() == []


def test_a_missing_permission_fails_here(proof: Proof) -> None:
    """The job-reading statement (DescribeTrainingJob, ListTags) taken away: every call it
    allowed is named, and nothing else."""

    def without_job_reads(function: str) -> list[dict[str, Any]]:
        return [st for st in proof.statements(function) if st.get("Sid") != "ReadTrainingJobs"]

    refused = proof.refused(without_job_reads)
    assert any(": ListTags -> " in line for line in refused)
    assert any(f"{SHARD}: DescribeTrainingJob -> " in line for line in refused)
    assert all(": ListTags -> " in r or ": DescribeTrainingJob -> " in r for r in refused)


def _job(proof: Proof, name: str) -> str:
    return proof.template.account.arn("sagemaker", f"training-job/{name}")


def test_a_stop_on_a_job_without_the_opt_in_tag_is_not_allowed(proof: Proof) -> None:
    group = f"aws:ResourceTag/{c.TAG_GROUP}"
    for fn in (EVALUATOR, SHARD):
        statements = proof.statements(fn)

        def stop(context: dict[str, list[str]], st: list[dict[str, Any]] = statements) -> bool:
            return allowed(st, Request("sagemaker:StopTrainingJob", _job(proof, "x"), context))

        assert stop({group: ["digits"]})
        assert not stop({})  # untagged
        assert not stop({group: [""]})  # tagged, but empty: not opted in
        assert not stop({c.TAG_OBJECTIVE: ["loss"]})
    for fn in (LIFECYCLE, ALERT, DIGEST):
        request = Request("sagemaker:StopTrainingJob", _job(proof, "x"), {group: ["digits"]})
        assert not allowed(proof.statements(fn), request), fn


def test_audit_items_are_append_only_for_every_function(proof: Proof) -> None:
    table = proof.template.account.arn("dynamodb", f"table/{proof.template.account.table}")

    def may(fn: str, action: str, pk: str) -> bool:
        request = Request(f"dynamodb:{action}", table, {"dynamodb:LeadingKeys": [pk]})
        return allowed(proof.statements(fn), request)

    for fn in (LIFECYCLE, EVALUATOR, ALERT, SHARD):
        assert may(fn, "PutItem", "AUDIT#job") and may(fn, "Query", "AUDIT#job")
        for action in ("UpdateItem", "DeleteItem", "BatchWriteItem"):
            assert not may(fn, action, "AUDIT#job"), (fn, action)
        assert may(fn, "UpdateItem", "JOB#job") and may(fn, "DeleteItem", "OPEN")
    for action in ("PutItem", "UpdateItem", "DeleteItem"):
        assert not may(DIGEST, action, "AUDIT#job")


def test_the_health_alarms_are_out_of_the_functions_reach(proof: Proof) -> None:
    acct = proof.template.account
    for fn in (LIFECYCLE, EVALUATOR):
        statements = proof.statements(fn)
        for action in ("PutMetricAlarm", "DeleteAlarms"):
            own = Request(
                f"cloudwatch:{action}", acct.arn("cloudwatch", "alarm:trainguard-gpu-idle-j-algo-1")
            )
            health = Request(
                f"cloudwatch:{action}",
                acct.arn("cloudwatch", f"alarm:{c.HEALTH_ALARM_PREFIX}evaluator-heartbeat"),
            )
            assert allowed(statements, own) and not allowed(statements, health), (fn, action)


def test_only_the_planner_may_send_shards(proof: Proof) -> None:
    acct, template = proof.template.account, proof.template
    policy = template.queue_policy(_shard_queue_logical(template))
    send = Request("sqs:SendMessage", acct.shard_queue_arn)
    for fn in (LIFECYCLE, EVALUATOR, ALERT, SHARD, DIGEST):
        role = acct.arn("iam", f"role/{template.role_of_function(fn)}")
        refused = denied(policy, replace(send, context={"aws:PrincipalArn": [role], **TLS}))
        assert refused is (fn != EVALUATOR), fn
    someone = acct.arn("iam", "role/Admin")
    assert denied(policy, replace(send, context={"aws:PrincipalArn": [someone], **TLS}))
