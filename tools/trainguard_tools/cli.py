"""The ``trainguard`` command (the operator tools, outside the Lambda asset).

Each subcommand is a module with a ``register(subparsers)`` function, listed in
:data:`COMMANDS`. ``local`` and ``demo`` come from the test harness (``trainguard_local``):
their modules only define the arguments, and import moto when they run. :func:`main` turns a
missing AWS set-up (credentials, region, an unreachable endpoint) into one line with the fix
and exit code 2, whatever the command.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Sequence

COMMANDS: tuple[str, ...] = (
    "trainguard_tools.status",
    "trainguard_tools.explain",
    "trainguard_tools.check",
    "trainguard_tools.report",
    "trainguard_tools.audit",
    "trainguard_tools.controls",
    "trainguard_tools.revive",
    "trainguard_tools.cleanup",
    "trainguard_tools.replay",
    "trainguard_tools.calibrate",
    "trainguard_tools.decide",
    "trainguard_local.demo",
    "trainguard_local.invoke",
)

DESCRIPTION = """\
trainguard watches your opted-in SageMaker training jobs: it stops the ones that can no
longer catch up with their group's best, alerts on idle GPUs, hung jobs and straggling hosts,
and reports the GPU hours and dollars it saved.

Operate a deployed stack (your AWS credentials and region; AWS_ENDPOINT_URL is honoured,
e.g. for `trainguard local up`):
  status, explain JOB, report --since 7d, pause / resume / mode / revive-auto, cleanup,
  audit verify
  revive JOB (continue a stopped job from its checkpoints)
Tune it on past jobs (no AWS account needed for a curve file):
  replay, calibrate, decide
Try it on this machine (an AWS emulator, no account):
  demo, local up, local advance, local invoke
"""

EPILOG = "`trainguard COMMAND --help` says what a command does and its options."


def version() -> str:
    """The installed package's version (its metadata), or ``unknown`` from a bare checkout."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    try:
        return package_version("trainguard")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trainguard",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"trainguard {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        importlib.import_module(module).register(sub)
    _plain_descriptions(parser)
    return parser


_ROLE = re.compile(r":(?:mod|func|class|meth|data|attr):`~?([^`]+)`")


def _plain_descriptions(parser: argparse.ArgumentParser) -> None:
    """The commands' descriptions without the docstrings' reStructuredText (``x`` and
    :mod:`x` read as `x` and x in a terminal), down every level of subcommands."""
    for action in parser._actions:  # argparse keeps its subparsers here
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                if child.description:
                    child.description = _ROLE.sub(r"\1", child.description).replace("``", "`")
                _plain_descriptions(child)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except Exception as exc:  # the machine's AWS set-up: one line with the fix, not a traceback
        from .stack import EXIT_OPS_ERROR, setup_problem

        message = setup_problem(exc) if _is_botocore(exc) else None
        if message is None:
            raise
        print(f"trainguard {args.command}: {message}", file=sys.stderr)
        return EXIT_OPS_ERROR


def _is_botocore(exc: BaseException) -> bool:
    return type(exc).__module__.startswith("botocore")


if __name__ == "__main__":
    sys.exit(main())
