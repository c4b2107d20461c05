"""Deploy the real stack into an AWS emulator (moto server) with the pinned CDK CLI, and read
back what was deployed.

Used by the deploy test (tests/e2e/test_deploy.py) and the local run::

    deployed = deploy_to_emulator("http://localhost:PORT", outdir)
    deployed.functions["trainguard-evaluator"].environment["TRAINGUARD_POLICY"]

Steps: ``cdk synth`` into ``outdir``; stand in for the public Powertools layer and the public SSM
parameter that names it (see :func:`stand_in_powertools_layer`); ``cdk bootstrap`` and
``cdk deploy`` of that same cloud assembly. The endpoint must use ``localhost``, not
``127.0.0.1``: with an IP address, asset publishing fails ("The specified bucket does not
exist").

Not deployed by moto's CloudFormation (silently skipped, the stack still completes):
CloudWatch alarms, SNS subscriptions, Lambda EventInvokeConfig, queue/topic policies and the
alarm-cleanup custom resource. The template tests (tests/infra) cover those.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import warnings
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainguard import constants as c

from .emulator import REGION, emulator_env, make_client

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import TargetOutputTypeDef
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_sts import STSClient

REPO_ROOT = Path(__file__).resolve().parents[2]
STACK_NAME = "Trainguard"


class DeployError(RuntimeError):
    """The CDK CLI failed; the message carries its output."""


@dataclass(frozen=True)
class DeployedFunction:
    name: str
    arn: str
    handler: str
    runtime: str
    environment: dict[str, str]
    timeout: int
    memory: int
    layers: list[str]


@dataclass(frozen=True)
class DeployedRule:
    name: str
    arn: str
    event_pattern: dict[str, Any] | None
    schedule: str | None
    state: str
    targets: list[TargetOutputTypeDef]

    @property
    def target_arns(self) -> list[str]:
        return [t["Arn"] for t in self.targets]


@dataclass(frozen=True)
class DeployedStack:
    endpoint_url: str
    account: str
    region: str
    cdk_out: Path
    functions: dict[str, DeployedFunction]
    rules: dict[str, DeployedRule]
    table_name: str
    topic_arn: str
    outputs: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def asset_dir(self) -> Path:
        """The folder that holds the functions' code (the `lambdas/` asset in cdk.out)."""
        manifest = json.loads((self.cdk_out / f"{STACK_NAME}.assets.json").read_text())
        for entry in manifest["files"].values():
            source = entry["source"]
            if (
                source.get("packaging") == "zip"
                and (self.cdk_out / source["path"] / "trainguard").is_dir()
            ):
                return Path(self.cdk_out / source["path"])
        raise DeployError(f"no lambdas/ asset in {self.cdk_out}")


def emulator_environment(endpoint_url: str, region: str = REGION) -> dict[str, str]:
    """The environment for the CDK CLI pointed at the emulator: this process's, without any
    AWS or CDK account setting, plus the emulator's endpoint and dummy credentials."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AWS_") and k not in ("CDK_DEFAULT_ACCOUNT", "CDK_DEFAULT_REGION")
    }
    env.update(emulator_env(endpoint_url, region))
    env.update(
        {"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "CDK_DISABLE_VERSION_CHECK": "1"}
    )
    return env


def _account(endpoint_url: str, region: str) -> str:
    sts: STSClient = make_client("sts", endpoint_url, region)
    return sts.get_caller_identity()["Account"]


@contextmanager
def quiet_moto_cloudformation() -> Iterator[None]:
    """During a deploy, moto's CloudFormation warns (a log line and a ``UserWarning``) about
    every resource type it skips, a page of known noise (the skipped types are listed in the
    module docstring). Hide those two kinds for the block; moto's errors still show."""
    moto_logger = logging.getLogger("moto")
    level = moto_logger.level
    moto_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message="Tried to parse .* not supported by moto", category=UserWarning
            )
            yield
    finally:
        moto_logger.setLevel(level)


def refresh_stack_outputs(account: str, region: str, stack: str = STACK_NAME) -> None:
    """Shim for a moto gap: a stack created by a change set (``cdk deploy``) keeps the
    outputs of its empty first template (``ExecuteChangeSet`` sets the new template but, unlike
    ``UpdateStack``, neither parses it nor rebuilds the output map), so DescribeStacks lists no
    outputs. Rebuild them from the deployed template, as CloudFormation reports them; the
    operator commands (``trainguard pause | status | ...``) find the table and topic there."""
    from moto.cloudformation.models import cloudformation_backends

    backend = cloudformation_backends[account][region]
    for deployed in backend.stacks.values():
        if deployed.name == stack:
            deployed._parse_template()
            deployed.output_map = deployed._create_output_map()


def _cdk(args: Sequence[str], env: Mapping[str, str], timeout: float) -> str:
    command = ["npx", "--no-install", "cdk", *args]
    result = subprocess.run(
        command,
        cwd=REPO_ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise DeployError(
            f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result.stdout + result.stderr


def _context_args(context: Mapping[str, Any] | None) -> list[str]:
    args: list[str] = []
    for key, value in (context or {}).items():
        text = value if isinstance(value, str) else json.dumps(value)
        args += ["-c", f"{key}={text}"]
    return args


def stand_in_powertools_layer(template: Mapping[str, Any], endpoint_url: str, region: str) -> str:
    """Make the stack's ``PowertoolsLayerArn`` parameter resolvable in the emulator.

    On AWS, Powertools publishes its layer and a public SSM parameter naming it
    (``/aws/service/powertools/python/...``). moto knows neither, and its PutParameter refuses
    ``/aws/`` names like AWS does. So the shim publishes an empty stand-in layer in the emulator
    and writes the parameter straight into moto's SSM backend, which works because the emulator
    runs in this process (the deploy test and the local run both start it here). Returns the
    stand-in layer ARN. The functions' code does not need the layer locally: Powertools is
    installed in the project's environment.
    """
    from moto.core.utils import utcnow
    from moto.ssm.models import Parameter, ssm_backends

    name = template["Parameters"]["PowertoolsLayerArn"]["Default"]
    lam: LambdaClient = make_client("lambda", endpoint_url, region)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("python/.trainguard-stand-in", "empty stand-in for a public layer\n")
    arn: str = lam.publish_layer_version(
        LayerName="AWSLambdaPowertoolsPythonV3-python313-arm64",
        Content={"ZipFile": buffer.getvalue()},
    )["LayerVersionArn"]
    account = _account(endpoint_url, region)
    parameters = ssm_backends[account][region]._parameters
    parameters[name] = [
        # moto marks its CloudFormation hooks abstract without enforcing it; its own
        # put_parameter builds a Parameter the same way
        Parameter(  # type: ignore[abstract]
            account_id=account,
            name=name,
            value=arn,
            parameter_type="String",
            description="stand-in for Powertools' public layer parameter",
            allowed_pattern=None,
            keyid=None,
            last_modified_date=utcnow(),
            version=1,
            data_type="text",
        )
    ]
    return arn


def deploy_to_emulator(
    endpoint_url: str,
    outdir: Path | str,
    *,
    context: Mapping[str, Any] | None = None,
    region: str = REGION,
    timeout: float = 600,
) -> DeployedStack:
    """``cdk synth`` + ``cdk bootstrap`` + ``cdk deploy`` into the emulator; the deployed wiring."""
    import time

    if "127.0.0.1" in endpoint_url:
        raise ValueError("use http://localhost:PORT: asset publishing fails with an IP address")
    outdir = Path(outdir).resolve()
    env = emulator_environment(endpoint_url, region)
    account = _account(endpoint_url, region)
    seconds: dict[str, float] = {}

    started = time.monotonic()
    _cdk(["synth", "--quiet", "--output", str(outdir), *_context_args(context)], env, timeout)
    seconds["synth"] = time.monotonic() - started
    template = json.loads((outdir / f"{STACK_NAME}.template.json").read_text())
    stand_in_powertools_layer(template, endpoint_url, region)

    started = time.monotonic()
    assembly = ["--app", str(outdir)]
    with quiet_moto_cloudformation():  # moto parses the templates on its server threads
        _cdk(["bootstrap", f"aws://{account}/{region}", *assembly], env, timeout)
        seconds["bootstrap"] = time.monotonic() - started
        started = time.monotonic()
        deploy = ["deploy", STACK_NAME, *assembly, "--require-approval", "never"]
        _cdk([*deploy, "--progress", "events"], env, timeout)
        seconds["deploy"] = time.monotonic() - started
    refresh_stack_outputs(account, region)
    return read_deployed(endpoint_url, outdir, region=region, seconds=seconds)


def deploy(endpoint_url: str, outdir: Path | str | None = None) -> DeployedStack:
    """The local run's entry point: deploy into the emulator (cdk.out under out/emulator)."""
    return deploy_to_emulator(endpoint_url, outdir or REPO_ROOT / "out" / "emulator-cdk.out")


def read_deployed(
    endpoint_url: str,
    cdk_out: Path,
    *,
    region: str = REGION,
    seconds: dict[str, float] | None = None,
) -> DeployedStack:
    """Read back the deployed functions, rules, table and topic from the emulator."""
    lam: LambdaClient = make_client("lambda", endpoint_url, region)
    functions = {}
    deployed_names = {
        fn["FunctionName"]
        for page in lam.get_paginator("list_functions").paginate()
        for fn in page["Functions"]
    }
    # the digest exists unless digestSchedule is "off"; the demo can invoke it by name
    optional = [c.DIGEST_FUNCTION_NAME] if c.DIGEST_FUNCTION_NAME in deployed_names else []
    for name in (
        c.LIFECYCLE_FUNCTION_NAME,
        c.EVALUATOR_FUNCTION_NAME,
        c.ALERT_FUNCTION_NAME,
        c.SHARD_FUNCTION_NAME,
        *optional,
    ):
        cfg = lam.get_function_configuration(FunctionName=name)
        functions[name] = DeployedFunction(
            name=name,
            arn=cfg["FunctionArn"],
            handler=cfg["Handler"],
            runtime=cfg["Runtime"],
            environment=dict(cfg.get("Environment", {}).get("Variables", {})),
            timeout=cfg["Timeout"],
            memory=cfg["MemorySize"],
            layers=[layer["Arn"] for layer in cfg.get("Layers", [])],
        )
    events: EventBridgeClient = make_client("events", endpoint_url, region)
    targets = events.get_paginator("list_targets_by_rule")
    rules = {}
    rule_names = [c.TRAINING_STATE_RULE_NAME, c.TICK_RULE_NAME, c.HEALTH_ALARM_RULE_NAME]
    if optional:
        rule_names.append(c.DIGEST_RULE_NAME)
    for name in rule_names:
        rule = events.describe_rule(Name=name)
        pattern = rule.get("EventPattern")
        rules[name] = DeployedRule(
            name=name,
            arn=rule["Arn"],
            event_pattern=json.loads(pattern) if pattern else None,
            schedule=rule.get("ScheduleExpression"),
            state=rule.get("State", ""),
            targets=[t for page in targets.paginate(Rule=name) for t in page["Targets"]],
        )
    env = functions[c.LIFECYCLE_FUNCTION_NAME].environment
    cloudformation: CloudFormationClient = make_client("cloudformation", endpoint_url, region)
    stacks = cloudformation.describe_stacks(StackName=STACK_NAME)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks["Stacks"][0].get("Outputs", [])}
    account = _account(endpoint_url, region)
    return DeployedStack(
        endpoint_url=endpoint_url,
        account=account,
        region=region,
        cdk_out=Path(cdk_out),
        functions=functions,
        rules=rules,
        table_name=env[c.ENV_TABLE_NAME],
        topic_arn=env[c.ENV_TOPIC_ARN],
        outputs=outputs,
        seconds=dict(seconds or {}),
    )
