"""Template assertions for every resource and property the stack promises (issue 5)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match
from infra_synth import Synthesized, assert_cfn_lint_clean

from trainguard import constants as c
from trainguard.config import Policy

pytestmark = pytest.mark.infra


def resources(s: Synthesized, kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in s.template_json["Resources"].items() if v["Type"] == kind}


def function(s: Synthesized, name: str) -> dict[str, Any]:
    for fn in resources(s, "AWS::Lambda::Function").values():
        if fn["Properties"].get("FunctionName") == name:
            return fn["Properties"]
    raise AssertionError(f"no function {name}")


def logical_id(s: Synthesized, kind: str, **props: Any) -> str:
    for key, res in resources(s, kind).items():
        if all(res["Properties"].get(k) == v for k, v in props.items()):
            return key
    raise AssertionError(f"no {kind} with {props}")


def statements_of_role(s: Synthesized, role_id: str) -> list[dict[str, Any]]:
    out = []
    for policy in resources(s, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            out += policy["Properties"]["PolicyDocument"]["Statement"]
    return out


def role_of(s: Synthesized, name: str) -> str:
    return function(s, name)["Role"]["Fn::GetAtt"][0]


def actions(statement: dict[str, Any]) -> list[str]:
    a = statement["Action"]
    return [a] if isinstance(a, str) else a


def arn_text(value: Any) -> str:
    """Fn::Join of an ARN flattened to text with pseudo parameters as <...>."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        return "".join(arn_text(v) for v in value["Fn::Join"][1])
    if "Ref" in value:
        return f"<{value['Ref']}>"
    return json.dumps(value)


# ---- state -------------------------------------------------------------------------------------
def test_table_schema_pitr_ttl_encryption_on_demand(synthesized: Synthesized) -> None:
    synthesized.template.has_resource(
        "AWS::DynamoDB::Table",
        {
            "Properties": {
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "BillingMode": "PAY_PER_REQUEST",
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": True},
                "SSESpecification": {"SSEEnabled": True},
                "GlobalSecondaryIndexes": [
                    Match.object_like(
                        {
                            "IndexName": "running",
                            "KeySchema": [{"AttributeName": "running_pk", "KeyType": "HASH"}],
                            "Projection": {"ProjectionType": "ALL"},
                        }
                    ),
                    Match.object_like({"IndexName": "audit"}),  # test_digest_and_audit_index
                ],
            },
            "DeletionPolicy": "Retain",
        },
    )


# ---- notifications -----------------------------------------------------------------------------
def test_topic_kms_tls_only_and_email(synthesized: Synthesized) -> None:
    t = synthesized.template
    t.has_resource_properties(
        "AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [Match.any_value(), "Arn"]}}
    )
    t.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    t.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            }
        },
    )
    t.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ml-platform@example.com"}
    )


def test_no_subscription_without_email(tmp_path: Any) -> None:
    from infra_synth import CDK_JSON_CONTEXT, synthesize

    s = synthesize({**CDK_JSON_CONTEXT, "alertEmail": ""}, tmp_path)
    s.template.resource_count_is("AWS::SNS::Subscription", 0)


# ---- functions ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "handler"),
    [
        (c.LIFECYCLE_FUNCTION_NAME, c.LIFECYCLE_HANDLER),
        (c.EVALUATOR_FUNCTION_NAME, c.EVALUATOR_HANDLER),
        (c.ALERT_FUNCTION_NAME, c.ALERT_HANDLER),
    ],
)
def test_function_runtime_layer_logging_env(
    synthesized: Synthesized, name: str, handler: str
) -> None:
    fn = function(synthesized, name)
    assert fn["Handler"] == handler
    assert fn["Runtime"] in ("python3.12", "python3.13")
    assert fn["LoggingConfig"]["LogFormat"] == "JSON"
    assert fn["TracingConfig"] == {"Mode": "Active"}
    assert fn["Layers"] == [{"Ref": "PowertoolsLayerArn"}]
    assert fn["Architectures"] == ["arm64"]
    env = fn["Environment"]["Variables"]
    for key in (c.ENV_TABLE_NAME, c.ENV_TOPIC_ARN, c.ENV_POLICY, c.ENV_STOPS_DISABLED):
        assert key in env, key
    assert env[c.ENV_STOPS_DISABLED] == "false"
    assert env[c.ENV_AUDIT_TTL_DAYS] == "90"
    assert env["POWERTOOLS_SERVICE_NAME"] == c.SERVICE_NAME
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == c.METRICS_NAMESPACE
    assert env["POWERTOOLS_PARAMETERS_MAX_AGE"] == str(c.CONTROLS_MAX_AGE_S) == "30"
    # the policy round-trips through the runtime's own parser, with the context's values
    policy = Policy.from_json(env[c.ENV_POLICY])
    assert policy.mode == "observe" and policy.tick_minutes == 1
    assert policy.median.min_completed == 3
    assert policy.gpu_idle.threshold_pct == 10 and policy.gpu_idle.window_minutes == 15
    assert fn["Timeout"] < 900 and fn["MemorySize"] >= 256


def test_alert_arn_given_to_lifecycle_and_evaluator(synthesized: Synthesized) -> None:
    alert_id = logical_id(synthesized, "AWS::Lambda::Function", FunctionName=c.ALERT_FUNCTION_NAME)
    for name in (c.LIFECYCLE_FUNCTION_NAME, c.EVALUATOR_FUNCTION_NAME):
        env = function(synthesized, name)["Environment"]["Variables"]
        assert env[c.ENV_ALERT_FUNCTION_ARN] == {"Fn::GetAtt": [alert_id, "Arn"]}


def test_evaluator_reserved_concurrency_and_timeout_under_tick(synthesized: Synthesized) -> None:
    fn = function(synthesized, c.EVALUATOR_FUNCTION_NAME)
    assert fn["ReservedConcurrentExecutions"] == 1
    assert fn["Timeout"] < 60
    for name in (c.LIFECYCLE_FUNCTION_NAME, c.ALERT_FUNCTION_NAME):
        assert "ReservedConcurrentExecutions" not in function(synthesized, name)


def test_async_invoke_config_with_dlq_for_every_function(synthesized: Synthesized) -> None:
    configs = resources(synthesized, "AWS::Lambda::EventInvokeConfig")
    assert len(configs) == 4  # lifecycle, evaluator, alert, digest
    queues = set(resources(synthesized, "AWS::SQS::Queue"))
    for cfg in configs.values():
        p = cfg["Properties"]
        destination = p["DestinationConfig"]["OnFailure"]["Destination"]
        assert destination["Fn::GetAtt"][0] in queues
        assert 0 <= p["MaximumRetryAttempts"] <= 2


def test_asset_is_lambdas_folder_with_the_runtime_s_bytecode(synthesized: Synthesized) -> None:
    from infra.asset import ASSET_DIR, ASSET_EXCLUDES, RUNTIME_PYTHON, runtime_python

    assert ASSET_DIR.name == "lambdas" and (ASSET_DIR / "trainguard").is_dir()
    assert "**/__pycache__" in ASSET_EXCLUDES
    manifest = json.loads(next(synthesized.template_path.parent.glob("*.assets.json")).read_text())
    dirs = [
        synthesized.template_path.parent / f["source"]["path"]
        for f in manifest["files"].values()
        if f["source"].get("packaging") == "zip"
    ]
    assert dirs, "the lambdas/ asset"
    tag = RUNTIME_PYTHON.replace("python", "cpython-").replace(".", "")  # cpython-313
    for d in dirs:
        assert (d / "trainguard" / "constants.py").is_file()
        sources = sorted(d.rglob("*.py"))
        compiled = sorted(d.rglob("*.pyc"))
        # one .pyc per source, for the runtime's interpreter only (no cache of this machine's)
        if runtime_python() is None:
            assert compiled == []  # sources only: they still run
        else:
            assert sorted(c.name for c in compiled) == sorted(
                f"{s.stem}.{tag}.pyc" for s in sources
            )
        assert not [p for p in d.rglob("*") if p.name in (".mypy_cache", ".pytest_cache")]


# ---- events ------------------------------------------------------------------------------------
def test_training_state_rule_pattern_and_target(synthesized: Synthesized) -> None:
    lifecycle = logical_id(
        synthesized, "AWS::Lambda::Function", FunctionName=c.LIFECYCLE_FUNCTION_NAME
    )
    synthesized.template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "Name": c.TRAINING_STATE_RULE_NAME,
            "EventPattern": {
                "source": ["aws.sagemaker"],
                "detail-type": ["SageMaker Training Job State Change"],
            },
            "Targets": [
                Match.object_like({"Arn": {"Fn::GetAtt": [lifecycle, "Arn"]}}),
            ],
        },
    )


def test_tick_schedule(synthesized: Synthesized) -> None:
    evaluator = logical_id(
        synthesized, "AWS::Lambda::Function", FunctionName=c.EVALUATOR_FUNCTION_NAME
    )
    synthesized.template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "Name": c.TICK_RULE_NAME,
            "ScheduleExpression": "rate(1 minute)",
            "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [evaluator, "Arn"]}})],
        },
    )


def test_health_alarm_rule(synthesized: Synthesized) -> None:
    alert = logical_id(synthesized, "AWS::Lambda::Function", FunctionName=c.ALERT_FUNCTION_NAME)
    synthesized.template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "Name": c.HEALTH_ALARM_RULE_NAME,
            "EventPattern": {
                "source": ["aws.cloudwatch"],
                "detail-type": ["CloudWatch Alarm State Change"],
                "detail": {"alarmName": [{"prefix": c.HEALTH_ALARM_PREFIX}]},
            },
            "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [alert, "Arn"]}})],
        },
    )


def test_every_rule_target_has_retry_policy_and_dlq(synthesized: Synthesized) -> None:
    rules = resources(synthesized, "AWS::Events::Rule")
    assert len(rules) == 4  # training state, tick, health alarms, digest
    queues = set(resources(synthesized, "AWS::SQS::Queue"))
    for rule in rules.values():
        for target in rule["Properties"]["Targets"]:
            assert target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0] in queues
            policy = target["RetryPolicy"]
            assert 0 <= policy["MaximumRetryAttempts"] <= 185
            assert 60 <= policy["MaximumEventAgeInSeconds"] <= 86400


def test_dead_letter_queues_encrypted_and_tls_only(synthesized: Synthesized) -> None:
    for queue in resources(synthesized, "AWS::SQS::Queue").values():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
    for policy in resources(synthesized, "AWS::SQS::QueuePolicy").values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny"
            and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
            for s in statements
        )


@pytest.mark.parametrize(("minutes", "expression"), [(1, "rate(1 minute)"), (5, "rate(5 minutes)")])
def test_rate_expression_singular_plural(minutes: int, expression: str) -> None:
    from aws_cdk import Duration
    from aws_cdk import aws_events as events

    assert events.Schedule.rate(Duration.minutes(minutes)).expression_string == expression


# ---- IAM ---------------------------------------------------------------------------------------
def _statement(s: Synthesized, fn_name: str, action: str) -> dict[str, Any]:
    for st in statements_of_role(s, role_of(s, fn_name)):
        if action in actions(st):
            return st
    raise AssertionError(f"{fn_name} has no {action}")


def _has_action(s: Synthesized, fn_name: str, action: str) -> bool:
    return any(action in actions(st) for st in statements_of_role(s, role_of(s, fn_name)))


def test_stop_only_opted_in_training_jobs(synthesized: Synthesized) -> None:
    for name in (c.EVALUATOR_FUNCTION_NAME,):
        st = _statement(synthesized, name, "sagemaker:StopTrainingJob")
        assert actions(st) == ["sagemaker:StopTrainingJob"]
        assert arn_text(st["Resource"]) == (
            "arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:training-job/*"
        )
        # a non-empty value: a trainguard:group tag that is present but empty does not opt in
        assert st["Condition"] == {"StringLike": {"aws:ResourceTag/trainguard:group": "?*"}}
    for name in (c.LIFECYCLE_FUNCTION_NAME, c.ALERT_FUNCTION_NAME):
        assert not _has_action(synthesized, name, "sagemaker:StopTrainingJob")
    # nowhere else, and never on "*"
    for policy in resources(synthesized, "AWS::IAM::Policy").values():
        for st in policy["Properties"]["PolicyDocument"]["Statement"]:
            if "sagemaker:StopTrainingJob" in actions(st):
                assert "Condition" in st and st["Resource"] != "*"


def test_alarm_management_scoped_to_trainguard_alarms(synthesized: Synthesized) -> None:
    for name in (c.LIFECYCLE_FUNCTION_NAME, c.EVALUATOR_FUNCTION_NAME):
        st = _statement(synthesized, name, "cloudwatch:PutMetricAlarm")
        assert "cloudwatch:DeleteAlarms" in actions(st)
        assert arn_text(st["Resource"]) == (
            "arn:<AWS::Partition>:cloudwatch:<AWS::Region>:<AWS::AccountId>:alarm:trainguard-*"
        )
    assert not _has_action(synthesized, c.ALERT_FUNCTION_NAME, "cloudwatch:PutMetricAlarm")
    assert not any(
        "iam:PassRole" in actions(st)
        for p in resources(synthesized, "AWS::IAM::Policy").values()
        for st in p["Properties"]["PolicyDocument"]["Statement"]
    )


def test_the_tick_may_read_tags_and_list_a_jobs_metrics(synthesized: Synthesized) -> None:
    # issue 20: live tags (ListTags each period) and the objective notice's CloudWatch names
    for name in (c.EVALUATOR_FUNCTION_NAME, c.SHARD_FUNCTION_NAME):
        assert _has_action(synthesized, name, "sagemaker:ListTags")
        assert _has_action(synthesized, name, "cloudwatch:ListMetrics")


def test_star_resources_only_for_actions_without_resource_types(synthesized: Synthesized) -> None:
    allowed = {
        "sagemaker:ListTrainingJobs",
        "cloudwatch:GetMetricData",
        "cloudwatch:DescribeAlarms",
        "cloudwatch:ListMetrics",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
    for policy in resources(synthesized, "AWS::IAM::Policy").values():
        for st in policy["Properties"]["PolicyDocument"]["Statement"]:
            if st["Resource"] == "*":
                assert set(actions(st)) <= allowed, actions(st)


def test_no_managed_policies(synthesized: Synthesized) -> None:
    for role in resources(synthesized, "AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]


def test_functions_get_table_and_topic(synthesized: Synthesized) -> None:
    for name in (c.LIFECYCLE_FUNCTION_NAME, c.EVALUATOR_FUNCTION_NAME, c.ALERT_FUNCTION_NAME):
        assert _has_action(synthesized, name, "dynamodb:PutItem")
        assert _has_action(synthesized, name, "dynamodb:Query")
        assert _has_action(synthesized, name, "sns:Publish")
        assert _has_action(synthesized, name, "sqs:SendMessage")  # its async-failure queue
    for name in (c.LIFECYCLE_FUNCTION_NAME, c.EVALUATOR_FUNCTION_NAME):
        assert _has_action(synthesized, name, "sagemaker:DescribeTrainingJob")
    # the alert function reads metrics and its table only: no SageMaker access at all
    assert not any(
        _has_action(synthesized, c.ALERT_FUNCTION_NAME, f"sagemaker:{action}")
        for action in ("DescribeTrainingJob", "ListTags", "ListTrainingJobs", "StopTrainingJob")
    )


# ---- alarms ------------------------------------------------------------------------------------
def test_alert_function_invocable_by_trainguard_alarms_only(synthesized: Synthesized) -> None:
    alert = logical_id(synthesized, "AWS::Lambda::Function", FunctionName=c.ALERT_FUNCTION_NAME)
    perms = [
        p["Properties"]
        for p in resources(synthesized, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "lambda.alarms.cloudwatch.amazonaws.com"
    ]
    assert len(perms) == 1
    perm = perms[0]
    assert perm["Action"] == "lambda:InvokeFunction"
    assert perm["FunctionName"] == {"Fn::GetAtt": [alert, "Arn"]}
    assert perm["SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert arn_text(perm["SourceArn"]) == (
        "arn:<AWS::Partition>:cloudwatch:<AWS::Region>:<AWS::AccountId>:alarm:trainguard-*"
    )


def test_health_alarms_notify_topic(synthesized: Synthesized) -> None:
    alarms = {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in resources(synthesized, "AWS::CloudWatch::Alarm").values()
    }
    expected = {
        "trainguard-health-evaluator-errors",
        "trainguard-health-lifecycle-errors",
        "trainguard-health-alert-errors",
        "trainguard-health-evaluator-throttles",
        "trainguard-health-evaluator-heartbeat",
        "trainguard-health-lifecycle-dead-letters",
        "trainguard-health-evaluator-dead-letters",
        "trainguard-health-alert-dead-letters",
        "trainguard-health-shard-errors",
        "trainguard-health-shard-dead-letters",
        "trainguard-health-digest-dead-letters",
        "trainguard-health-job-errors",
        "trainguard-health-email-dead-letters",
        "trainguard-health-config-errors",
    }
    assert set(alarms) == expected
    topic = next(iter(resources(synthesized, "AWS::SNS::Topic")))
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [{"Ref": topic}]
    beat = alarms["trainguard-health-evaluator-heartbeat"]
    assert beat["MetricName"] == "Invocations" and beat["Namespace"] == "AWS/Lambda"
    assert beat["ComparisonOperator"] == "LessThanThreshold" and beat["Threshold"] == 1
    assert beat["EvaluationPeriods"] == 3 and beat["TreatMissingData"] == "breaching"
    assert beat["Period"] == 60
    errors = alarms["trainguard-health-evaluator-errors"]
    assert errors["MetricName"] == "Errors"
    dlq = alarms["trainguard-health-evaluator-dead-letters"]
    assert dlq["MetricName"] == "ApproximateNumberOfMessagesVisible"
    for name, metric in (
        ("job-errors", c.METRIC_JOB_ERRORS),
        ("email-dead-letters", c.METRIC_EMAIL_DEAD_LETTERS),
        ("config-errors", c.METRIC_CONFIG_ERRORS),
    ):
        own = alarms[f"trainguard-health-{name}"]
        assert (own["Namespace"], own["MetricName"], own["Threshold"]) == (
            c.METRICS_NAMESPACE,
            metric,
            1,
        )
        assert own["Dimensions"] == [{"Name": "service", "Value": c.SERVICE_NAME}]


def test_cloudwatch_may_publish_to_the_topic_and_use_its_key_for_this_account_only(
    synthesized: Synthesized,
) -> None:
    (policy,) = resources(synthesized, "AWS::SNS::TopicPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    (allow,) = [st for st in statements if st.get("Sid") == "CloudWatchAlarmsPublish"]
    assert allow["Effect"] == "Allow" and allow["Action"] == "sns:Publish"
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    source_arn = json.dumps(allow["Condition"]["ArnLike"]["aws:SourceArn"])
    assert ":alarm:trainguard-*" in source_arn
    (key,) = resources(synthesized, "AWS::KMS::Key").values()
    (cw,) = [
        st
        for st in key["Properties"]["KeyPolicy"]["Statement"]
        if st.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert cw["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_dashboard_widgets(synthesized: Synthesized) -> None:
    dash = next(iter(resources(synthesized, "AWS::CloudWatch::Dashboard").values()))
    body = json.dumps(dash["Properties"]["DashboardBody"])
    for text in (
        c.METRIC_STOPS,
        c.METRIC_WOULD_STOPS,
        c.METRIC_ALERTS,
        c.METRIC_DOLLARS_SAVED,
        c.METRIC_TICK_DURATION,
        "Errors",
        c.METRICS_NAMESPACE,
        c.METRIC_UNWATCHED,
        "unwatched / ticks",
    ):
        assert text in body, text


# ---- cleanup -----------------------------------------------------------------------------------
def test_alarm_cleanup_custom_resource(synthesized: Synthesized) -> None:
    crs = resources(synthesized, "AWS::CloudFormation::CustomResource")
    assert len(crs) == 1
    cr_id = next(iter(crs))
    fn = function(synthesized, "trainguard-alarm-cleanup")
    assert fn["Environment"]["Variables"] == {
        "ALARM_PREFIX": c.ALARM_PREFIX,
        "KEEP_PREFIX": c.HEALTH_ALARM_PREFIX,
    }
    # rules and functions depend on it, so on delete they go first and it runs last
    for kind in ("AWS::Events::Rule",):
        for res in resources(synthesized, kind).values():
            assert cr_id in res.get("DependsOn", [])
    for name in (c.LIFECYCLE_FUNCTION_NAME, c.EVALUATOR_FUNCTION_NAME, c.ALERT_FUNCTION_NAME):
        fn_id = logical_id(synthesized, "AWS::Lambda::Function", FunctionName=name)
        assert cr_id in synthesized.template_json["Resources"][fn_id]["DependsOn"]
    st = _statement(synthesized, "trainguard-alarm-cleanup", "cloudwatch:DeleteAlarms")
    assert arn_text(st["Resource"]).endswith(":alarm:trainguard-*")


def test_cleanup_handler_skips_health_alarms() -> None:
    from infra.capabilities import alarm_cleanup_handler as h

    class FakeCloudWatch:
        def __init__(self, names: list[str]) -> None:
            self.names, self.deleted = names, []  # type: list[str]

        def get_paginator(self, _: str) -> Any:
            names = self.names

            class P:
                def paginate(self, **kw: Any) -> Any:
                    prefix = kw["AlarmNamePrefix"]
                    yield {
                        "MetricAlarms": [{"AlarmName": n} for n in names if n.startswith(prefix)]
                    }

            return P()

        def delete_alarms(self, AlarmNames: list[str]) -> None:
            assert len(AlarmNames) <= 100
            self.deleted += AlarmNames

    names = [f"trainguard-gpu-idle-job{i}-algo-1" for i in range(150)]
    cw = FakeCloudWatch([*names, "trainguard-health-evaluator-errors", "other-alarm"])
    assert h.delete_runtime_alarms(cw) == 150
    assert cw.deleted == names


# ---- checks ------------------------------------------------------------------------------------
def test_cdk_nag_has_no_unacknowledged_findings(synthesized: Synthesized) -> None:
    # app.synth() in the fixture would have raised on any finding; the report says so too.
    report = json.loads((synthesized.template_path.parent / "validation-report.json").read_text())
    conclusions = {p["pluginName"]: p["conclusion"] for p in report["pluginReports"]}
    assert conclusions == {"AwsSolutions": "success"}, report


def test_every_acknowledgement_has_a_reason(synthesized: Synthesized) -> None:
    from aws_cdk import Validations

    key = Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    found = 0
    for node in synthesized.stack.node.find_all():
        for entry in node.node.metadata:
            if entry.type == key:
                for rule_id, reason in dict(entry.data).items():
                    found += 1
                    assert rule_id.startswith("AwsSolutions::AwsSolutions-"), rule_id
                    assert len(str(reason)) >= 30, (rule_id, reason)
    assert found >= 10


def test_cfn_lint_has_no_errors(synthesized: Synthesized) -> None:
    assert_cfn_lint_clean(synthesized.template_path)


def test_powertools_layer_is_the_pinned_release_from_its_public_ssm_parameter(
    synthesized: Synthesized,
) -> None:
    from aws_lambda_powertools.shared.version import VERSION

    parameter = synthesized.template_json["Parameters"]["PowertoolsLayerArn"]
    assert parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
    # the layer that carries exactly the release uv.lock pins, for the runtime and architecture
    assert parameter["Default"] == f"/aws/service/powertools/python/arm64/python3.13/{VERSION}"


# ---- the sharded tick ----------------------------------------------------------------------------
def test_shard_queue_feeds_the_shard_function_one_shard_at_a_time(synthesized: Synthesized) -> None:
    from infra.capabilities.functions import SHARD_CONCURRENCY, SHARD_MAX_RECEIVES

    shard = logical_id(synthesized, "AWS::Lambda::Function", FunctionName=c.SHARD_FUNCTION_NAME)
    (mapping,) = resources(synthesized, "AWS::Lambda::EventSourceMapping").values()
    p = mapping["Properties"]
    assert p["FunctionName"] == {"Ref": shard}
    assert p["BatchSize"] == 1 and p["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert p["ScalingConfig"] == {"MaximumConcurrency": SHARD_CONCURRENCY}
    queue_id = p["EventSourceArn"]["Fn::GetAtt"][0]
    queue = resources(synthesized, "AWS::SQS::Queue")[queue_id]["Properties"]
    redrive = queue["RedrivePolicy"]
    assert redrive["maxReceiveCount"] == SHARD_MAX_RECEIVES
    dlq_id = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
    fn = function(synthesized, c.SHARD_FUNCTION_NAME)
    assert queue["VisibilityTimeout"] >= 6 * fn["Timeout"]  # SQS's advice for Lambda
    assert fn["Timeout"] < 60 and "ReservedConcurrentExecutions" not in fn
    # the shard's dead letters are alarmed, like every other dead-letter queue
    synthesized.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": f"{c.HEALTH_ALARM_PREFIX}shard-dead-letters",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}}],
        },
    )
    synthesized.template.has_resource_properties(
        "AWS::CloudWatch::Alarm", {"AlarmName": f"{c.HEALTH_ALARM_PREFIX}shard-errors"}
    )
    # the planner knows the queue and may send to it; the shard may stop opted-in jobs only
    env = function(synthesized, c.EVALUATOR_FUNCTION_NAME)["Environment"]["Variables"]
    assert env[c.ENV_SHARD_QUEUE_URL] == {"Ref": queue_id}
    sends = [
        s
        for s in statements_of_role(synthesized, role_of(synthesized, c.EVALUATOR_FUNCTION_NAME))
        if "sqs:SendMessage" in actions(s)
    ]
    assert {"Fn::GetAtt": [queue_id, "Arn"]} in [s["Resource"] for s in sends]
    stops = [
        s
        for s in statements_of_role(synthesized, role_of(synthesized, c.SHARD_FUNCTION_NAME))
        if "sagemaker:StopTrainingJob" in actions(s)
    ]
    assert [s["Condition"] for s in stops] == [
        {"StringLike": {f"aws:ResourceTag/{c.TAG_GROUP}": "?*"}}
    ]


def test_dashboard_shows_shard_durations_and_errors(synthesized: Synthesized) -> None:
    (dashboard,) = resources(synthesized, "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for text in (
        "Shard durations",
        "Shard errors",
        c.METRIC_SHARD_DURATION,
        "shards dead-lettered",
    ):
        assert text in body
