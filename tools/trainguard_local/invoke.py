"""``trainguard local invoke FUNCTION --event FILE.json``: one deployed function, like
``sam local invoke``, against the AWS emulator.

Prints the handler's result, its log lines and the AWS calls it made (``Service.Operation``
with counts); exits 0 when the handler returned, 1 when it raised, 2 on a usage error.

A "SageMaker Training Job State Change" event names a job the fresh emulator has never seen
(AWS's documented sample does): before the call, the job is created in the emulator with the
event's name, resources, stopping condition, tags, times and status (unless it exists), so
the function's SageMaker calls (``ListTags``, ``DescribeTrainingJob``) find it, as they would
on AWS. The output says so in a note.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from trainguard.constants import TRAINING_STATE_CHANGE
from trainguard_tools.local_group import EMULATOR_MODULES, missing_message

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_sagemaker.type_defs import ResourceConfigTypeDef, TagTypeDef

    from .router import Invocation
    from .sagemaker_shim import SageMakerShim

_TERMINAL_OR_STOPPING = ("Completed", "Failed", "Stopped", "Stopping")


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "local", help="run the control plane's pieces against the local AWS emulator"
    )
    local_sub = parser.add_subparsers(dest="local_command", required=True)
    from .up import register as register_up

    register_up(local_sub)
    invoke = local_sub.add_parser(
        "invoke",
        help="run one deployed function in-process on an event file (like `sam local invoke`)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    invoke.add_argument(
        "function",
        help="lifecycle, evaluator or alert, or a deployed function name or ARN",
    )
    invoke.add_argument("--event", required=True, help="the event JSON file ('-' for stdin)")
    invoke.add_argument(
        "--endpoint",
        help="a running `trainguard local up` (e.g. http://localhost:5000): its stack and jobs, "
        "in about a second; without it a fresh emulator is started and the stack deployed "
        "into it (about 30 s)",
    )
    invoke.add_argument(
        "--cdk-out",
        type=Path,
        default=None,
        help="cdk.out folder: run the code of its Lambda asset",
    )
    invoke.add_argument("--json", action="store_true", help="print one JSON object instead")
    invoke.set_defaults(func=_run_invoke)


def _read_event(path: str) -> Any:
    text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    return json.loads(text)


def _deploy_into(endpoint_url: str) -> Path:
    """``cdk bootstrap`` + ``cdk deploy`` of the stack into a fresh emulator (the infra half of
    issue 6, :mod:`trainguard_local.emulator_deploy`); returns the ``cdk.out`` it deployed."""
    from . import emulator_deploy

    return Path(emulator_deploy.deploy(endpoint_url).cdk_out)


class EventClock:
    """The shim's clock: the registered event's own times while its job is created and
    ended, the wall clock otherwise."""

    def __init__(self) -> None:
        self.pinned: datetime | None = None

    def __call__(self) -> datetime:
        return self.pinned or datetime.now(UTC)


def _moment(value: Any) -> datetime | None:
    """A state-change timestamp (epoch ms as a string or a number, or ISO 8601), or None."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        if not isinstance(value, str):
            return None
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
        except ValueError:
            return None
    return datetime.fromtimestamp(number / 1000.0 if number > 1e11 else number, UTC)


def _tag_list(raw: Any) -> list[TagTypeDef]:
    """The event's ``Tags`` (a map, or a list of ``Key``/``Value``) as CreateTrainingJob's list."""
    if isinstance(raw, Mapping):
        return [{"Key": str(k), "Value": str(v)} for k, v in raw.items()]
    if isinstance(raw, list):
        return [
            {"Key": str(t["Key"]), "Value": str(t.get("Value", ""))}
            for t in raw
            if isinstance(t, Mapping) and "Key" in t
        ]
    return []


def register_event_job(
    sagemaker: SageMakerClient,
    shim: SageMakerShim | None,
    clock: EventClock,
    event: Any,
) -> list[str]:
    """Create the training job a state-change event names, unless the emulator has it: under
    the name in its ARN (what ``ListTags`` reads) and its ``TrainingJobName`` (what
    ``DescribeTrainingJob`` reads) when they differ, with the event's resources, stopping
    condition, tags, times and status (the status needs the in-process shim). Returns notes."""
    from botocore.exceptions import ClientError

    if not isinstance(event, Mapping) or event.get("detail-type") != TRAINING_STATE_CHANGE:
        return []
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        return []
    arn = str(detail.get("TrainingJobArn", ""))
    names = [n for n in (arn.rpartition("/")[2], str(detail.get("TrainingJobName", ""))) if n]
    status = str(detail.get("TrainingJobStatus", "InProgress"))
    start = _moment(detail.get("TrainingStartTime") or detail.get("CreationTime"))
    end = _moment(detail.get("TrainingEndTime") or detail.get("LastModifiedTime"))
    resources = detail.get("ResourceConfig") or {}
    notes: list[str] = []
    for name in dict.fromkeys(names):
        try:
            sagemaker.describe_training_job(TrainingJobName=name)
            continue  # the emulator has it: leave it as it is
        except ClientError:
            pass
        clock.pinned = start
        try:
            sagemaker.create_training_job(
                TrainingJobName=name,
                AlgorithmSpecification={
                    "TrainingImage": "registered-from-the-event",
                    "TrainingInputMode": "File",
                },
                RoleArn=str(detail.get("RoleArn") or "arn:aws:iam::123456789012:role/local"),
                OutputDataConfig={"S3OutputPath": "s3://trainguard-local/out"},
                # the event's instance type may be any string (the sample's is "InstanceType")
                ResourceConfig=cast(
                    "ResourceConfigTypeDef",
                    {
                        "InstanceType": str(resources.get("InstanceType", "ml.m5.xlarge")),
                        "InstanceCount": int(resources.get("InstanceCount", 1)),
                        "VolumeSizeInGB": int(resources.get("VolumeSizeInGB", 10)),
                    },
                ),
                StoppingCondition={
                    "MaxRuntimeInSeconds": int(
                        (detail.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds", 86400)
                    )
                },
                HyperParameters={
                    str(k): str(v) for k, v in (detail.get("HyperParameters") or {}).items()
                },
                Tags=_tag_list(detail.get("Tags")),
            )
            if shim is not None and status != "InProgress":
                clock.pinned = end if status in _TERMINAL_OR_STOPPING else start
                shim.force_status(name, status, detail.get("SecondaryStatus"))
        finally:
            clock.pinned = None
        shown = status if shim is not None else "as the emulator creates it"
        notes.append(f"registered training job {name} in the emulator ({shown}), from the event")
    return notes


def _run_invoke(args: argparse.Namespace) -> int:
    missing = missing_message("local invoke", EMULATOR_MODULES)
    if missing:
        print(missing, file=sys.stderr)
        return 2
    from .emulator import Emulator, make_client
    from .emulator_deploy import DeployError
    from .router import EventRouter, Wiring, WiringError
    from .sagemaker_shim import SageMakerShim

    try:
        event = _read_event(args.event)
    except (OSError, json.JSONDecodeError) as exc:
        print(f"trainguard local invoke: cannot read event {args.event}: {exc}", file=sys.stderr)
        return 2
    emulator: Emulator | None = None
    shim: SageMakerShim | None = None
    clock = EventClock()
    try:
        if args.endpoint:
            endpoint = args.endpoint.rstrip("/")
        else:
            print(
                "trainguard local invoke: starting the AWS emulator and deploying the stack "
                "into it (about 30 s) ...",
                file=sys.stderr,
                flush=True,
            )
            emulator = Emulator().start()
            shim = SageMakerShim(clock=clock).install()
            endpoint = emulator.endpoint_url
            try:
                deployed_out = _deploy_into(endpoint)
            except DeployError as exc:
                print(f"trainguard local invoke: the deploy failed: {exc}", file=sys.stderr)
                return 2
            args.cdk_out = args.cdk_out or deployed_out
        wiring = Wiring.read(endpoint)
        router = EventRouter(wiring, endpoint_url=endpoint, cdk_out=args.cdk_out)
        try:
            function = wiring.function(args.function)
        except WiringError as exc:
            print(f"trainguard local invoke: {exc}", file=sys.stderr)
            return 2
        notes = register_event_job(make_client("sagemaker", endpoint), shim, clock, event)
        invocation = router.invoke(function.name, event)
        invocation.notes[:0] = notes
        drained = router.drain_queues()  # a planner's shards (the sharded tick), if it sent any
        if drained:
            failed = sum(1 for inv in drained if not inv.ok)
            invocation.notes.append(
                f"{len(drained)} shard invocation(s) from the shard queue, {failed} failed"
            )
    finally:
        if shim is not None:
            shim.uninstall()
        if emulator is not None:
            emulator.stop()
    if args.json:
        print(json.dumps(invocation.to_dict(), indent=2, default=str))
    else:
        print(format_invocation(invocation))
    return 0 if invocation.ok else 1


def format_invocation(invocation: Invocation) -> str:
    """The human-readable report of one invocation: notes, result, logs, AWS calls."""
    lines = [f"{invocation.function} ({invocation.request_id}) {invocation.duration_ms:.0f} ms"]
    lines += [f"note: {note}" for note in invocation.notes]
    if invocation.ok:
        lines += ["", "Result:", json.dumps(invocation.result, indent=2, default=str)]
    else:
        lines += ["", f"Error: {invocation.error}", invocation.traceback or ""]
    lines += ["", f"Log lines ({len(invocation.logs)}):", *invocation.logs]
    total = sum(invocation.aws_calls.values())
    lines += ["", f"AWS calls ({total}):"]
    width = max((len(name) for name in invocation.aws_calls), default=0)
    lines += [f"  {name:<{width}}  {count}" for name, count in invocation.aws_calls.items()]
    return "\n".join(lines)
