"""``trainguard audit verify [--job NAME]``: check the audit's hash chains (docs/audit.md) and
name each chain's first broken link.

Every run's audit records form a chain under ``AUDIT#<name>``; a record holds the hash of the
one before it (``trainguard.adapters.dynamodb.chain``). The command reads every chain (a Scan
of the ``AUDIT#`` items, or one job's partition with ``--job``) and says, per broken chain,
the record where it breaks: ``rewritten`` (its content does not match its hash),
``broken link`` (the record before it was rewritten with its hash recomputed) or ``missing``
(a record deleted). Exit code 0: every chain intact; 1: a chain is broken.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

from trainguard.adapters.dynamodb.audit import DynamoDBAuditLog
from trainguard.adapters.dynamodb.chain import ChainCheck

from .stack import add_stack_arguments, connect, run


def render_text(checks: Sequence[ChainCheck]) -> str:
    broken = [c for c in checks if not c.ok]
    records = sum(c.records for c in checks)
    lines = [f"{len(checks)} chains, {records} records: {len(broken)} broken"]
    for check in checks:
        if check.broken is not None:
            lines.append(f"BROKEN {check.run}: {check.broken}")
        elif check.first > 0:
            lines.append(
                f"ok     {check.run}: starts at record {check.first} (records before it are "
                "gone: expired by the table's TTL, or deleted)"
            )
    return "\n".join(lines)


def render_json(checks: Sequence[ChainCheck]) -> str:
    def one(check: ChainCheck) -> dict[str, Any]:
        broken = check.broken
        return {
            "job": check.run.name,
            "created_ms": check.run.created_ms,
            "records": check.records,
            "first": check.first,
            "broken": None
            if broken is None
            else {"record": broken.seq, "kind": broken.kind, "detail": broken.detail},
        }

    return json.dumps({"chains": [one(c) for c in checks]}, indent=2)


def _run(args: argparse.Namespace) -> int:
    def command() -> int:
        deployed = connect(args.stack, args.region)
        audit = deployed.state_table().audit
        assert isinstance(audit, DynamoDBAuditLog)
        checks = audit.verify(args.job)
        print(render_json(checks) if args.format == "json" else render_text(checks))
        return 0 if all(c.ok for c in checks) else 1

    return run(command)


def register(sub: Any) -> None:
    """``trainguard audit verify [--job NAME] [--format text|json] [--stack S] [--region R]``."""
    parser = sub.add_parser(
        "audit",
        help="check that the audit records were not rewritten or deleted (hash chains)",
        description="The audit's tamper evidence: each run's audit records form a hash chain; "
        "`verify` reads every chain and names its first broken link (exit code 1 if any).",
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    verify = verbs.add_parser(
        "verify",
        help="check every chain (or one job's) and name the first broken link",
        description="Read every run's audit chain (a Scan of the AUDIT# items, or one job's "
        "partition with --job) and name, per broken chain, the record where it breaks: "
        "rewritten, broken link (the record before was rewritten) or missing (deleted).",
    )
    verify.add_argument("--job", help="only this job's chains (one Query instead of a Scan)")
    verify.add_argument("--format", choices=("text", "json"), default="text")
    add_stack_arguments(verify)
    verify.set_defaults(func=_run)
