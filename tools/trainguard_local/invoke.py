"""``trainguard local invoke FUNCTION --event FILE.json``: one deployed function, like
``sam local invoke``, against the AWS emulator.

Prints the handler's result, its log lines and the AWS calls it made (``Service.Operation``
with counts); exits 0 when the handler returned, 1 when it raised, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from trainguard_tools.local_group import EMULATOR_MODULES, missing_message


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "local", help="run the control plane's pieces against the local AWS emulator"
    )
    local_sub = parser.add_subparsers(dest="local_command", required=True)
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
        help="an emulator that already has the stack deployed (e.g. http://localhost:5000); "
        "without it an in-process emulator is started and the stack deployed into it",
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


def _run_invoke(args: argparse.Namespace) -> int:
    missing = missing_message("local invoke", EMULATOR_MODULES)
    if missing:
        print(missing, file=sys.stderr)
        return 2
    from .emulator import Emulator
    from .router import EventRouter, Wiring, WiringError
    from .sagemaker_shim import SageMakerShim

    try:
        event = _read_event(args.event)
    except (OSError, json.JSONDecodeError) as exc:
        print(f"trainguard local invoke: cannot read event {args.event}: {exc}", file=sys.stderr)
        return 2
    emulator: Emulator | None = None
    shim: SageMakerShim | None = None
    try:
        if args.endpoint:
            endpoint = args.endpoint.rstrip("/")
        else:
            emulator = Emulator().start()
            shim = SageMakerShim().install()
            endpoint = emulator.endpoint_url
            deployed_out = _deploy_into(endpoint)
            args.cdk_out = args.cdk_out or deployed_out
        wiring = Wiring.read(endpoint)
        router = EventRouter(wiring, endpoint_url=endpoint, cdk_out=args.cdk_out)
        try:
            invocation = router.invoke(args.function, event)
        except WiringError as exc:
            print(f"trainguard local invoke: {exc}", file=sys.stderr)
            return 2
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


def format_invocation(invocation: Any) -> str:
    """The human-readable report of one invocation: result, logs, AWS calls."""
    lines = [f"{invocation.function} ({invocation.request_id}) {invocation.duration_ms:.0f} ms"]
    if invocation.ok:
        lines += ["", "Result:", json.dumps(invocation.result, indent=2, default=str)]
    else:
        lines += ["", f"Error: {invocation.error}", invocation.traceback or ""]
    lines += ["", f"Log lines ({len(invocation.logs)}):", *invocation.logs]
    total = sum(invocation.aws_calls.values())
    lines += ["", f"AWS calls ({total}):"]
    width = max((len(name) for name in invocation.aws_calls), default=0)
    lines += [f"  {name:<{width}}  {count}" for name, count in invocation.aws_calls.items()]
    lines += [f"  note: {note}" for note in invocation.notes]
    return "\n".join(lines)
