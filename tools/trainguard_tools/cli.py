"""The ``trainguard`` command: operator tools (outside the Lambda asset)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence


def _cmd_decide(args: argparse.Namespace) -> int:
    from .decide import SnapshotError, decide_snapshot, load_snapshot

    try:
        with open(args.snapshot, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        print(f"trainguard decide: cannot read {args.snapshot}: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        result = decide_snapshot(load_snapshot(text))
    except SnapshotError as exc:
        print(f"trainguard decide: {args.snapshot}: {exc}", file=sys.stderr)
        return 2
    json.dump(result, sys.stdout, indent=2 if args.pretty else None)
    sys.stdout.write("\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trainguard", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    decide = sub.add_parser("decide", help="decisions for one snapshot of curves, as JSON")
    decide.add_argument("snapshot", help="JSON file: rule, completed and running curves")
    decide.add_argument("--pretty", action="store_true", help="indent the JSON output")
    decide.set_defaults(func=_cmd_decide)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
