"""Functions: lifecycle, evaluator (the tick's planner), its shards, alert and the digest from the
`lambdas/` folder, least-privilege roles.

Sizing (the figures behind each choice are in bench/RESULTS.md, parts `completion` and
`scale`):
- lifecycle: one event at a time; on completion one GetMetricData curve read and the rebuild
  of the group's reference table from its CURVE# items (a bounded window of references, so
  its time and memory do not grow with the group's history) -> 256 MB, 60 s.
- evaluator (the tick's planner): reads the running index, reconciles and resumes open
  actions once a tick; a fleet of at most one shard's worth of jobs (TRAINGUARD_SHARD_SIZE,
  500) it judges itself, a larger one it sends to the shard queue in shards (whole reference
  sets, large ones split). Memory is sized for CPU (Lambda gives CPU in proportion) -> 512 MB.
  Its timeout stays under the tick period so a slow tick ends before the next one starts;
  reserved concurrency 1 means two ticks never overlap (a late tick is throttled and retried
  by Lambda's async queue, never run twice).
- evaluator shard: one shard (<= 500 jobs) a message from the shard queue (batch size 1,
  ReportBatchItemFailures; 3 receives, then the shard dead-letter queue, alarmed). A shard is
  CPU-bound and small in memory (`scale`), so 512 MB (CPU), the evaluator's timeout, at most
  SHARD_CONCURRENCY = 20 shards at once (20 x 500 = 10,000 jobs judged in parallel a tick).
- alert: one alarm payload, a few reads and one publish -> 256 MB, 30 s.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import jsii
from aws_cdk import (
    ArnFormat,
    AssetHashType,
    BundlingOptions,
    CfnOutput,
    CfnParameter,
    DockerImage,
    Duration,
    ILocalBundling,
    RemovalPolicy,
    Stack,
)
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_lambda_powertools.shared.version import VERSION as POWERTOOLS_VERSION
from constructs import Construct

from infra.asset import (
    ASSET_DIR,
    ASSET_EXCLUDES,
    RUNTIME_PYTHON,
    compile_bytecode,
    copy_sources,
    runtime_python,
)
from infra.config import TrainguardConfig
from infra.nag import acknowledge
from trainguard import constants as c

RUNTIME = lambda_.Runtime.PYTHON_3_13

ARCHITECTURE = lambda_.Architecture.ARM_64
# Powertools for AWS Lambda (Python) publishes, per release, a public SSM parameter naming the
# layer that carries it: /aws/service/powertools/python/{arch}/{python}/{version}. Resolving it at
# deploy time pins the layer to the exact release in uv.lock (no hand-kept layer number).
POWERTOOLS_LAYER_PARAMETER = "PowertoolsLayerArn"


def powertools_layer_ssm_name(version: str = POWERTOOLS_VERSION) -> str:
    return f"/aws/service/powertools/python/arm64/python3.13/{version}"


_RETENTION = logs.RetentionDays
LOG_RETENTION = {
    1: _RETENTION.ONE_DAY,
    3: _RETENTION.THREE_DAYS,
    5: _RETENTION.FIVE_DAYS,
    7: _RETENTION.ONE_WEEK,
    14: _RETENTION.TWO_WEEKS,
    30: _RETENTION.ONE_MONTH,
    60: _RETENTION.TWO_MONTHS,
    90: _RETENTION.THREE_MONTHS,
    120: _RETENTION.FOUR_MONTHS,
    150: _RETENTION.FIVE_MONTHS,
    180: _RETENTION.SIX_MONTHS,
    365: _RETENTION.ONE_YEAR,
    400: _RETENTION.THIRTEEN_MONTHS,
    545: _RETENTION.EIGHTEEN_MONTHS,
    731: _RETENTION.TWO_YEARS,
    1827: _RETENTION.FIVE_YEARS,
    3653: _RETENTION.TEN_YEARS,
}


@jsii.implements(ILocalBundling)
class BytecodeAsset:
    """The asset as it ships: ``lambdas/`` without caches, plus its bytecode compiled by the
    runtime's own interpreter (``python3.13``) with ``--invalidation-mode unchecked-hash``.
    Lambda's code directory is read-only, so without it every cold start compiles the
    sources (bench/RESULTS.md, `cold_start`). Without ``python3.13`` on the machine that
    synthesizes, the sources ship alone (it works, a little slower) and synth says so."""

    def try_bundle(self, output_dir: str, options: object = None, **_: object) -> bool:
        copy_sources(ASSET_DIR, Path(output_dir))
        python = runtime_python()
        if python is None:
            print(
                f"trainguard: {RUNTIME_PYTHON} not found; the Lambda asset ships without "
                "bytecode (each cold start compiles it)",
                file=sys.stderr,
            )
            return True
        compile_bytecode(Path(output_dir), python)
        return True


def evaluator_timeout_seconds(tick_minutes: int) -> int:
    """Under the tick period (so ticks never pile up), within Lambda's 900 s cap."""
    return max(30, min(tick_minutes * 60 - 5, 900))


SHARD_MAX_RECEIVES = 3  # a shard is tried this many times, then dead-lettered (alarmed)
SHARD_CONCURRENCY = 20  # shards judged at once (the SQS event source's maximum concurrency)


@dataclass(frozen=True)
class FunctionSpec:
    construct_id: str
    name: str
    handler: str
    memory_mb: int
    timeout_s: int
    description: str


class Functions(Construct):
    """The three functions, their log groups, dead-letter queues and permissions."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: TrainguardConfig,
        table: dynamodb.ITable,
        topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self._config = config
        layer_arn = CfnParameter(
            stack,
            POWERTOOLS_LAYER_PARAMETER,
            type="AWS::SSM::Parameter::Value<String>",
            default=powertools_layer_ssm_name(),
            description=f"Public SSM parameter naming the Powertools {POWERTOOLS_VERSION} layer",
        )
        self._layer = lambda_.LayerVersion.from_layer_version_arn(
            self, "PowertoolsLayer", layer_arn.value_as_string
        )
        self._code = lambda_.Code.from_asset(
            str(ASSET_DIR),
            exclude=ASSET_EXCLUDES,
            asset_hash_type=AssetHashType.SOURCE,  # bytecode is not byte-reproducible
            bundling=BundlingOptions(
                # never used: the local bundler always bundles (no Docker needed)
                image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.13"),
                local=BytecodeAsset(),
            ),
        )
        self._common_env = {
            c.ENV_TABLE_NAME: table.table_name,
            c.ENV_TOPIC_ARN: topic.topic_arn,
            c.ENV_POLICY: config.policy_json(),
            c.ENV_STOPS_DISABLED: "true" if config.policy.stops_disabled else "false",
            c.ENV_AUDIT_TTL_DAYS: str(config.audit_ttl_days),
            c.ENV_POWERTOOLS_SERVICE: c.SERVICE_NAME,
            c.ENV_POWERTOOLS_NAMESPACE: c.METRICS_NAMESPACE,
            # the runtime controls' cache (Powertools parameters): a pause is in force by the
            # next one-minute tick
            c.ENV_POWERTOOLS_PARAMETERS_MAX_AGE: str(c.CONTROLS_MAX_AGE_S),
        }
        if config.chat is not None:  # only then: other HTTPS subscribers see no change
            self._common_env[c.ENV_CHAT] = config.chat.kinds
        self.dead_letter_queues: dict[str, sqs.Queue] = {}

        self.alert = self._function(
            FunctionSpec(
                "Alert",
                c.ALERT_FUNCTION_NAME,
                c.ALERT_HANDLER,
                256,
                30,
                "trainguard: alarm notifications (GPU idle, health) -> enrich -> SNS",
            ),
            extra_env={},
            retry_attempts=2,
            max_event_age=Duration.hours(6),
        )
        alert_arn = self.alert.function_arn
        # the lifecycle plans capacity retries (and says when they are off), the evaluator's
        # tick creates them
        retry_env = {c.ENV_RETRY_ROLE_ARNS: ",".join(config.retry_role_arns)}
        self.lifecycle = self._function(
            FunctionSpec(
                "Lifecycle",
                c.LIFECYCLE_FUNCTION_NAME,
                c.LIFECYCLE_HANDLER,
                256,
                60,
                "trainguard: SageMaker training job state changes",
            ),
            extra_env={c.ENV_ALERT_FUNCTION_ARN: alert_arn, **retry_env},
            retry_attempts=2,
            max_event_age=Duration.hours(6),
        )
        tick_s = config.tick_minutes * 60
        self.evaluator = self._function(
            FunctionSpec(
                "Evaluator",
                c.EVALUATOR_FUNCTION_NAME,
                c.EVALUATOR_HANDLER,
                512,
                evaluator_timeout_seconds(config.tick_minutes),
                "trainguard: one tick over all running opted-in jobs",
            ),
            # the shard queue's URL is added below, once the queue exists
            extra_env={c.ENV_ALERT_FUNCTION_ARN: alert_arn, **retry_env},
            reserved_concurrency=1,
            # A tick that could not run is replaced by the next one: no retries, no old ticks.
            retry_attempts=0,
            max_event_age=Duration.seconds(max(60, tick_s)),
        )
        self.shard = self._shard_function(alert_arn)
        self.evaluator.add_environment(c.ENV_SHARD_QUEUE_URL, self.shard_queue.queue_url)
        self.functions = (self.lifecycle, self.evaluator, self.alert, self.shard)

        for fn in self.functions:
            table.grant_read_write_data(fn)
            topic.grant_publish(fn)
            fn.add_to_role_policy(audit_append_only(table))

        training_jobs = stack.format_arn(
            service="sagemaker", resource="training-job", resource_name="*"
        )
        trainguard_alarms = stack.format_arn(
            service="cloudwatch",
            resource="alarm",
            resource_name=f"{c.ALARM_PREFIX}*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        read_jobs = iam.PolicyStatement(
            sid="ReadTrainingJobs",
            actions=["sagemaker:DescribeTrainingJob", "sagemaker:ListTags"],
            resources=[training_jobs],
        )
        list_jobs = iam.PolicyStatement(
            sid="ListTrainingJobs",
            actions=["sagemaker:ListTrainingJobs"],
            resources=["*"],  # ListTrainingJobs has no resource type
        )
        # Only jobs that carry the opt-in tag can be stopped: a job without it is alerted on,
        # never stopped.
        stop_opted_in = iam.PolicyStatement(
            sid="StopOptedInTrainingJobs",
            actions=["sagemaker:StopTrainingJob"],
            resources=[training_jobs],
            # "?*": at least one character; a tag that is present but empty does not opt in
            conditions={"StringLike": {f"aws:ResourceTag/{c.TAG_GROUP}": "?*"}},
        )
        read_metrics = iam.PolicyStatement(
            sid="ReadMetricsAndAlarms",
            # ListMetrics: the names CloudWatch holds for a job whose objective does not arrive
            # (the coverage notice, once a run)
            actions=[
                "cloudwatch:GetMetricData",
                "cloudwatch:DescribeAlarms",
                "cloudwatch:ListMetrics",
            ],
            resources=["*"],  # none of these actions supports resource-level permissions
        )
        # Alarm create/delete only on trainguard-* alarms. A Lambda alarm action is authorized by
        # the alert function's resource policy (principal lambda.alarms.cloudwatch.amazonaws.com),
        # not by the caller: no iam:PassRole or lambda:* is needed to set it.
        manage_alarms = iam.PolicyStatement(
            sid="ManageTrainguardAlarms",
            actions=[
                "cloudwatch:PutMetricAlarm",
                "cloudwatch:DeleteAlarms",
                "cloudwatch:TagResource",
            ],
            resources=[trainguard_alarms],
        )
        for fn in self.functions:
            fn.add_to_role_policy(read_metrics)
        # The alert function only reads metrics: idle jobs are stopped by the evaluator's tick.
        for fn in (self.lifecycle, self.evaluator):
            fn.add_to_role_policy(read_jobs)
            fn.add_to_role_policy(list_jobs)
            fn.add_to_role_policy(manage_alarms)
            fn.add_to_role_policy(keep_health_alarms(stack))
        self.shard.add_to_role_policy(read_jobs)  # the re-check before a stop
        self.evaluator.add_to_role_policy(stop_opted_in)
        self.shard.add_to_role_policy(stop_opted_in)
        self.shard_queue.grant_send_messages(self.evaluator)
        self._only_the_planner_sends()
        self.retry_jobs_arn: str | None = None
        if config.retry_role_arns:
            self._grant_capacity_retries(stack, config.retry_role_arns)

        self.training_jobs_arn = training_jobs
        self.trainguard_alarms_arn = trainguard_alarms
        for fn in self.functions:
            self._acknowledge(fn, table)
            CfnOutput(self, f"{fn.node.id}FunctionName", value=fn.function_name)

    def _grant_capacity_retries(self, stack: Stack, roles: tuple[str, ...]) -> None:
        """Only with ``retryRoleArns``: the evaluator may create a training job named like a
        retry (``*-retry-*``) that carries the opt-in and retry tags, tag it as it is created
        (CreateTrainingJob with Tags needs AddTags), and pass exactly the listed roles, to
        SageMaker only."""
        retry_jobs = stack.format_arn(
            service="sagemaker",
            resource="training-job",
            resource_name=f"*{c.RETRY_NAME_INFIX}*",
        )
        self.retry_jobs_arn = retry_jobs
        tagged = {
            "StringLike": {
                f"aws:RequestTag/{tag}": "?*" for tag in (c.TAG_GROUP, c.TAG_RETRY, c.TAG_RETRY_OF)
            }
        }
        self.evaluator.add_to_role_policy(
            iam.PolicyStatement(
                sid="CreateCapacityRetries",
                actions=["sagemaker:CreateTrainingJob", "sagemaker:AddTags"],
                resources=[retry_jobs],
                conditions=tagged,
            )
        )
        self.evaluator.add_to_role_policy(
            iam.PolicyStatement(
                sid="PassRetryRoles",
                actions=["iam:PassRole"],
                resources=list(roles),
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        # revivals (trainguard revive): the tick creates <first job>-revived-<k>, tagged with
        # the opt-in and the run it continues; the same roles are passed
        self.evaluator.add_to_role_policy(
            iam.PolicyStatement(
                sid="CreateRevivals",
                actions=["sagemaker:CreateTrainingJob", "sagemaker:AddTags"],
                resources=[
                    stack.format_arn(
                        service="sagemaker",
                        resource="training-job",
                        resource_name=f"*{c.REVIVED_NAME_INFIX}*",
                    )
                ],
                conditions={
                    "StringLike": {
                        f"aws:RequestTag/{tag}": "?*" for tag in (c.TAG_GROUP, c.TAG_REVIVED_FROM)
                    }
                },
            )
        )
        role = self.evaluator.role
        assert role is not None
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::{_REVIVED_JOBS_NAG}]",
            "Revivals are created at run time, named <stopped job>-revived-<k>: the name is "
            "unknown at deploy time; CreateTrainingJob/AddTags only with the trainguard:group "
            "and trainguard:revived-from tags on the request.",
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::{_RETRY_JOBS_NAG}]",
            "Capacity retries are created at run time, named <failed job>-retry-<k>: the name "
            "is unknown at deploy time; CreateTrainingJob/AddTags only with the trainguard:group, "
            "trainguard:retry and trainguard:retry-of tags on the request.",
        )
        for arn in roles:
            if "*" in arn:
                acknowledge(
                    role,
                    f"AwsSolutions-IAM5[Resource::{arn}]",
                    "iam:PassRole for the IAM path the deployment lists in retryRoleArns, to "
                    "sagemaker.amazonaws.com only (iam:PassedToService).",
                )

    def _only_the_planner_sends(self) -> None:
        """The shard queue's policy: a message may come from the evaluator's role only (the
        planner). A Deny for every other principal (``aws:PrincipalArn``, the ARN of the role
        whose session calls, IAM's global condition keys), so that a forged shard cannot be
        queued by another role of the account, whatever its own policy allows; SQS authorizes
        SendMessageBatch as ``sqs:SendMessage``."""
        role = self.evaluator.role
        assert role is not None
        self.shard_queue.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OnlyThePlannerSendsShards",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["sqs:SendMessage"],
                resources=[self.shard_queue.queue_arn],
                conditions={"ArnNotEquals": {"aws:PrincipalArn": role.role_arn}},
            )
        )

    # ---- helpers ------------------------------------------------------------------------------
    def _shard_function(self, alert_arn: str) -> lambda_.Function:
        """The shard queue (with its dead-letter queue) and the function it feeds: one shard
        a message, a failed shard reported back to SQS (ReportBatchItemFailures), received
        again after the visibility timeout, dead-lettered after ``SHARD_MAX_RECEIVES``."""
        timeout_s = evaluator_timeout_seconds(self._config.tick_minutes)
        dlq = sqs.Queue(
            self,
            "ShardQueueDeadLetters",
            retention_period=Duration.days(14),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        acknowledge(
            dlq,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of the shard queue; its depth is alarmed.",
        )
        self.dead_letter_queues["Shard"] = dlq
        self.shard_queue = sqs.Queue(
            self,
            "ShardQueue",
            # SQS's advice for a Lambda event source: six times the function's timeout
            visibility_timeout=Duration.seconds(6 * timeout_s),
            retention_period=Duration.seconds(max(3600, 6 * timeout_s * SHARD_MAX_RECEIVES)),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=SHARD_MAX_RECEIVES, queue=dlq),
        )
        fn = self._function(
            FunctionSpec(
                "Shard",
                c.SHARD_FUNCTION_NAME,
                c.SHARD_HANDLER,
                512,
                timeout_s,
                "trainguard: one shard of the evaluator's tick (from the shard queue)",
            ),
            extra_env={c.ENV_ALERT_FUNCTION_ARN: alert_arn},
            # never invoked asynchronously (no async configuration): SQS retries a shard
            retry_attempts=None,
            max_event_age=None,
            async_dead_letters=False,
        )
        fn.add_event_source(
            event_sources.SqsEventSource(
                self.shard_queue,
                batch_size=1,
                report_batch_item_failures=True,
                max_concurrency=SHARD_CONCURRENCY,
            )
        )
        return fn

    def _function(
        self,
        spec: FunctionSpec,
        *,
        extra_env: dict[str, str],
        retry_attempts: int | None,
        max_event_age: Duration | None,
        reserved_concurrency: int | None = None,
        async_dead_letters: bool = True,
    ) -> lambda_.Function:
        log_group = logs.LogGroup(
            self,
            f"{spec.construct_id}Logs",
            log_group_name=f"/aws/lambda/{spec.name}",
            retention=LOG_RETENTION[self._config.log_retention_days],
            removal_policy=RemovalPolicy.DESTROY,
        )
        role = iam.Role(
            self,
            f"{spec.construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"trainguard {spec.name}: least privilege (no managed policies)",
        )
        log_group.grant_write(role)
        on_failure = None
        if async_dead_letters:
            dlq = sqs.Queue(
                self,
                f"{spec.construct_id}DeadLetters",
                retention_period=Duration.days(14),
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
            )
            self.dead_letter_queues[spec.construct_id] = dlq
            acknowledge(
                dlq,
                "AwsSolutions-SQS3",
                "This queue is itself a dead-letter queue (rule target and async invocation "
                "failures of one function); its depth is alarmed.",
            )
            on_failure = destinations.SqsDestination(dlq)
        fn = lambda_.Function(
            self,
            spec.construct_id,
            function_name=spec.name,
            description=spec.description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=spec.handler,
            code=self._code,
            layers=[self._layer],
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_s),
            role=role,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            tracing=lambda_.Tracing.ACTIVE,
            environment={**self._common_env, **extra_env},
            reserved_concurrent_executions=reserved_concurrency,
            retry_attempts=retry_attempts,
            max_event_age=max_event_age,
            on_failure=on_failure,
        )
        return fn

    def _acknowledge(self, fn: lambda_.Function, table: dynamodb.ITable) -> None:
        findings = {
            "Resource::*": "Only for actions without resource-level permissions: "
            "sagemaker:ListTrainingJobs, cloudwatch:GetMetricData, cloudwatch:DescribeAlarms, "
            "cloudwatch:ListMetrics, "
            "xray:PutTraceSegments/PutTelemetryRecords (active tracing).",
            f"Resource::{_SAGEMAKER_JOBS_NAG}": "Training jobs are created at run time by the "
            "users, so their names are unknown at deploy time; Describe/ListTags only, and "
            "StopTrainingJob is further limited to jobs tagged trainguard:group.",
            f"Resource::{_TRAINGUARD_ALARMS_NAG}": "Per-job alarms are created at run time; "
            "create/delete/tag is limited to alarms named trainguard-*.",
            index_finding(table): "Read access to the table's own indexes (the sparse "
            "`running` GSI that each tick queries).",
            **PUBLISH_FINDING,
        }
        acknowledge_function(fn, findings)


def audit_append_only(table: dynamodb.ITable) -> iam.PolicyStatement:
    """The audit is append-only for the functions: no UpdateItem, DeleteItem or BatchWriteItem
    (nor their PartiQL forms) on an item whose partition key starts with ``AUDIT#``.
    ``dynamodb:LeadingKeys`` is the request's partition key values (DynamoDB's fine-grained
    access control; ``ForAnyValue``: denied if any key of the request is an audit key). A
    PutItem is still allowed (how a record is appended, under ``attribute_not_exists``); IAM
    cannot require that condition, so a put over an existing record is what the hash chain
    detects (``trainguard audit verify``, docs/audit.md)."""
    return iam.PolicyStatement(
        sid="AuditAppendOnly",
        effect=iam.Effect.DENY,
        actions=[
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:BatchWriteItem",
            "dynamodb:PartiQLUpdate",
            "dynamodb:PartiQLDelete",
        ],
        resources=[table.table_arn],
        conditions={"ForAnyValue:StringLike": {"dynamodb:LeadingKeys": [f"{c.AUDIT_PK_PREFIX}*"]}},
    )


def health_alarms_arn(stack: Stack) -> str:
    """The stack's own alarms (``trainguard-health-*``): CloudFormation's, not the functions'."""
    return stack.format_arn(
        service="cloudwatch",
        resource="alarm",
        resource_name=f"{c.HEALTH_ALARM_PREFIX}*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def keep_health_alarms(stack: Stack) -> iam.PolicyStatement:
    """The functions' alarm permissions (``trainguard-*``) must not cover the stack's health
    alarms, whose names share the prefix: PutMetricAlarm, DeleteAlarms and TagResource act
    on the ``alarm`` resource type (arn:...:cloudwatch:<region>:<account>:alarm:<name>), so a
    Deny on ``trainguard-health-*`` carves them out."""
    return iam.PolicyStatement(
        sid="KeepHealthAlarms",
        effect=iam.Effect.DENY,
        actions=[
            "cloudwatch:PutMetricAlarm",
            "cloudwatch:DeleteAlarms",
            "cloudwatch:TagResource",
            "cloudwatch:UntagResource",
            "cloudwatch:SetAlarmState",
            "cloudwatch:DisableAlarmActions",
        ],
        resources=[health_alarms_arn(stack)],
    )


PUBLISH_FINDING = {
    "Action::kms:GenerateDataKey*": "Publishing to the KMS-encrypted topic needs "
    "GenerateDataKey* on that one key (granted by topic.grant_publish).",
}


def index_finding(table: dynamodb.ITable) -> str:
    """cdk-nag's IAM5 finding id for read access to ``table``'s indexes."""
    stack = Stack.of(table)
    table_id = stack.resolve(stack.get_logical_id(table.node.default_child))  # type: ignore[arg-type]
    return f"Resource::<{table_id}.Arn>/index/*"


def acknowledge_function(fn: lambda_.Function, findings: dict[str, str]) -> None:
    """Acknowledge ``findings`` (IAM5 finding -> reason) on the function's role, and the
    runtime finding (L1) on the function."""
    role = fn.role
    assert role is not None
    for finding, reason in findings.items():
        acknowledge(role, f"AwsSolutions-IAM5[{finding}]", reason)
    acknowledge(fn, "AwsSolutions-L1", L1_REASON)


_SAGEMAKER_JOBS_NAG = "arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:training-job/*"
_RETRY_JOBS_NAG = (
    "arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:training-job/"
    f"*{c.RETRY_NAME_INFIX}*"
)
_REVIVED_JOBS_NAG = (
    "arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:training-job/"
    f"*{c.REVIVED_NAME_INFIX}*"
)
_TRAINGUARD_ALARMS_NAG = (
    f"arn:<AWS::Partition>:cloudwatch:<AWS::Region>:<AWS::AccountId>:alarm:{c.ALARM_PREFIX}*"
)
L1_REASON = (
    "Python 3.13 is pinned on purpose: the Powertools public layer is published per Python "
    "version, and the runtime is bumped together with that layer (and tested locally on it)."
)
