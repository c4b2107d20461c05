"""The action ledger's values (logic/ledger.py): claims read from the items the table holds
today (nested ``details`` and the fields written since), outcomes whose text is what the
audit records and emails have always said, and the dispatch table (logic/actions.py)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from trainguard.logic.actions import CARRY_OUTS
from trainguard.logic.ledger import (
    ActionKind,
    Claim,
    ClaimState,
    Outcome,
    OutcomeKind,
    iso,
    tally_of,
)
from trainguard.models import RunId

RUN = RunId("job-a", 1_700_000_000_000)
DECISION = {
    "job": "job-a",
    "rule": "median",
    "stop": True,
    "step": 12,
    "value": 1.2,
    "threshold": 0.8,
    "references": 3,
    "reason": "worse",
    "alert": False,
}
pytestmark = pytest.mark.unit

LOGIC = Path(__file__).resolve().parents[2] / "lambdas" / "trainguard" / "logic"


def test_a_claim_reads_todays_items_and_writes_them_back() -> None:
    # what claim_action wrote, then update_action / finish_action at the top level
    item: dict[str, Any] = {
        "pk": "JOB#job-a",
        "sk": "RUN#...#ACTION#median#stop",
        "at": 100.0,
        "state": "refused",
        "attempts": 2,
        "retry_at": 700.0,
        "outcome": "COULD NOT STOP (AccessDenied)",
        "details": {
            "decision": DECISION,
            "enforcing": True,
            "hold": None,
            "mode": "enforce",
            "savings": 12.5,
            "context": {"Group": "g"},
        },
    }
    claim = Claim.from_item(RUN, "median#stop", item)
    assert claim.kind is ActionKind.STOP and claim.state is ClaimState.REFUSED
    assert (claim.at, claim.attempts, claim.due, claim.savings) == (100.0, 2, 700.0, 12.5)
    assert claim.decision().rule == "median" and claim.enforcing and claim.hold is None
    assert claim.mode("observe") == "enforce" and claim.context == {"Group": "g"}
    assert claim.to_item() == {k: v for k, v in item.items() if k not in ("pk", "sk")}
    assert Claim.from_item(RUN, "median#stop", claim.to_item()) == claim


def test_a_retry_claim_is_due_at_its_details_time_until_a_back_off_says_otherwise() -> None:
    details = {
        "retry": {
            "attempt": 1,
            "limit": 2,
            "base": "b",
            "name": "b-retry-1",
            "kind": "SageMaker.CAPACITY_ERROR",
        },
        "retry_at": 220.0,
        "at": 100.0,
    }
    item = {"at": 100.0, "state": "claimed", "attempts": 0, "details": details}
    claim = Claim.from_item(RUN, "retry#1", item)
    assert claim.kind is ActionKind.RETRY and claim.due == 220.0 and claim.tries == 0
    later = Claim.from_item(
        RUN, "retry#1", {**item, "state": "claimed", "tries": 1, "retry_at": 520.0}
    )
    assert later.due == 520.0 and later.tries == 1


@pytest.mark.parametrize(
    ("action", "details", "kind"),
    [
        ("median#stop", {"enforcing": True}, ActionKind.STOP),
        ("median#report", {"enforcing": False}, ActionKind.REPORT),
        ("max_runtime#alert", {}, ActionKind.ALERT),
        ("hung:algo-1:100#alert", {}, ActionKind.ALERT),
        ("failed#alert", {"subject": "s", "body": "b"}, ActionKind.NOTICE),
        ("config#alert", {"subject": "s", "body": "b"}, ActionKind.NOTICE),
        ("retry#3", {"retry": {}}, ActionKind.RETRY),
    ],
)
def test_every_stored_action_name_has_its_kind_and_a_carry_out(
    action: str, details: dict[str, Any], kind: ActionKind
) -> None:
    assert ActionKind.of(action, details) is kind
    assert kind in CARRY_OUTS


@pytest.mark.parametrize(
    ("outcome", "text", "tally"),
    [
        (Outcome(OutcomeKind.STOPPED), "STOPPED", "stop"),
        (Outcome(OutcomeKind.WOULD_STOP, "observe"), "WOULD STOP (observe)", "would_stop"),
        (
            Outcome(OutcomeKind.WOULD_STOP, "paused by ana: x"),
            "WOULD STOP (paused by ana: x)",
            "would_stop",
        ),
        (
            Outcome(OutcomeKind.NOT_STOPPED, "already ending"),
            "NOT STOPPED (already ending)",
            "not_stopped",
        ),
        (
            Outcome(OutcomeKind.COULD_NOT_STOP, "AccessDenied (x)"),
            "COULD NOT STOP (AccessDenied (x))",
            "not_stopped",
        ),
        (Outcome(OutcomeKind.ALERT), "ALERT", "alert"),
        (Outcome(OutcomeKind.RETRY_SCHEDULED), "RETRY SCHEDULED", "other"),
        (Outcome(OutcomeKind.NOT_RETRIED, "a bad tag"), "NOT RETRIED (a bad tag)", "other"),
        (
            Outcome(OutcomeKind.RETRY_HELD, "actions disabled"),
            "RETRY HELD (actions disabled)",
            "other",
        ),
        (Outcome(OutcomeKind.RETRIED), "RETRIED", "other"),
    ],
)
def test_an_outcome_says_what_it_always_said_and_reads_back(
    outcome: Outcome, text: str, tally: str
) -> None:
    assert outcome.text == str(outcome) == text
    assert Outcome.parse(text) == outcome and tally_of(text) == tally


def test_records_that_are_no_outcome_count_as_other() -> None:
    assert Outcome.parse("SOMETHING ELSE") is None and tally_of("") == "other"
    assert tally_of("STOPPED (by hand)") == "other"  # as the report always counted it


def test_one_iso() -> None:
    assert iso(0.0) == "1970-01-01T00:00:00+00:00"


def test_the_carry_outs_do_not_import_each_other() -> None:
    """act and retry both import the ledger, never each other (not even for the type
    checker), and nothing under logic/ reaches for another module's private helpers."""
    imports: dict[str, set[str]] = {}
    for path in LOGIC.glob("*.py"):
        tree = ast.parse(path.read_text())
        names = imports.setdefault(path.stem, set())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                names.update([node.module] if node.module else [a.name for a in node.names])
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{path.name} imports private {private}"
    assert "retry" not in imports["act"] and "act" not in imports["retry"]
    assert "ledger" in imports["act"] and "ledger" in imports["retry"]
    assert not imports["ledger"] & {"act", "retry", "actions"}
