"""The ``trainguard`` command: operator tools (outside the Lambda asset).

Each subcommand lives in its own module with ``register(subparsers)``; add a module to
``COMMANDS`` to add a subcommand. ``local`` and ``demo`` come from the test harness
(``trainguard_local``): their modules only define the arguments, and import moto when run.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMANDS: tuple[str, ...] = (
    "trainguard_tools.decide",
    "trainguard_tools.replay",
    "trainguard_tools.calibrate",
    "trainguard_local.invoke",
    "trainguard_tools.cleanup",
    "trainguard_tools.controls",
    "trainguard_tools.status",
    "trainguard_tools.explain",
    "trainguard_tools.check",
    "trainguard_tools.report",
    "trainguard_local.demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trainguard", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        importlib.import_module(module).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
