"""Messages as values (trainguard/message.py, built in logic/messages.py): the email text each
renders is the text the project always sent, the chat card is rendered from the value (no
parsing back) and is the card the text gave, a value that contains ``Key: `` stays a value,
and the outbox keeps the value (and still sends the text items written before values)."""

from __future__ import annotations

import pytest
from fakes import FakeNotifier, FakeOutbox

from trainguard.adapters.chat import custom_notification, message_notification
from trainguard.core.decision import Decision
from trainguard.logic import messages
from trainguard.logic.outbox import Mail
from trainguard.message import Message, email_text, field, sentence

pytestmark = pytest.mark.unit

REGION = "us-east-1"
CONSOLE = messages.console_link(REGION, "job-x")
D = Decision(
    job="job-x",
    rule="median",
    stop=True,
    step=12.0,
    value=1.2,
    threshold=0.8,
    references=3,
    reason="worse than the median",
)

DETAILS = {
    "Group": "g",
    "Savings": "$1.00",
    "Ratio": 0.5,
    "Logs": messages.logs_link(REGION, "job-x"),
}


def built() -> dict[str, Message]:
    """One message of each kind, as the logic builds them."""
    return {
        "decision": messages.decision(
            D,
            subject=messages.stop_subject(D, "STOPPED"),
            outcome="STOPPED",
            mode="enforce",
            region=REGION,
            details=DETAILS,
        ),
        "retry": messages.retry(
            "[trainguard] RETRIED job-x as job-x-retry-1 (attempt 1 of 2)",
            {
                "Job": "job-x (Failed)",
                "Outcome": "RETRIED",
                "Failed with": "CapacityError: x",
                "Retry link": messages.console_link(REGION, "job-x-retry-1"),
            },
            REGION,
            "job-x",
        ),
        "failed": messages.failed(
            "job-x", "Failed (n/a)", "AlgorithmError: boom", "g", "not retried: x", REGION
        ),
        "config": messages.config_error("job-x", "trainguard:retry must be a number", REGION),
        "recovered": messages.gpu_recovered("job-x/algo-1", 12.0, REGION, "job-x"),
        "report": messages.report(
            "[trainguard] weekly digest",
            [
                [sentence("trainguard weekly digest, a .. b")],
                [field("Stops", "1 (2.0 GPU hours, $3.00 saved)"), field("Alerts", 0)],
                messages.lines("group  jobs\nTOTAL  1"),
            ],
            18,
        ),
    }


def steps(**kw: bool) -> str:
    """The next steps a message ends with (their text: test_message_safety.py)."""
    return email_text(Message.of("", messages.next_steps(REGION, "job-x", **kw)[1:], 0))


def test_each_message_renders_the_text_the_project_always_sent() -> None:
    texts = {kind: email_text(m) for kind, m in built().items()}
    # issue 22: each ends with what to do (the logs link moved there from the fields)
    assert texts["decision"] == (
        "Job:        job-x\nOutcome:    STOPPED\nRule:       median\n"
        "Why:        worse than the median\nStep:       12\nValue:      1.2\n"
        "Threshold:  0.8\nReferences: 3\nMode:       enforce\nGroup:      g\n"
        f"Savings:    $1.00\nRatio:      0.5\n\n{steps(running=False)}"
    )
    kept = messages.body(D, outcome="STOPPED", mode="enforce", region=REGION, details=DETAILS)
    assert texts["decision"] == kept
    assert texts["retry"].startswith("Job:         job-x (Failed)\nOutcome:     RETRIED\n")
    assert "Failed with: CapacityError: x\n" in texts["retry"]
    assert texts["retry"].endswith(f"\n\n{steps(running=False, ended=True)}")
    assert texts["failed"] == (
        "Job:     job-x\nStatus:  Failed (n/a)\nReason:  AlgorithmError: boom\nGroup:   g\n"
        f"Retry:   not retried: x\n\n{steps(running=False, ended=True)}"
    )
    assert texts["config"] == (
        "Job:     job-x\nProblem: trainguard:retry must be a number\nThe job is not evaluated "
        f"until its tags are fixed. {messages.LIVE_TAGS}"
        f"\n\n{steps()}"
    )
    assert texts["recovered"] == (
        "Host:     job-x/algo-1\nRecovered: GPU utilization is back above the threshold\n"
        f"Episode:  12 min since the idle alert\n\n{steps()}"
    )
    assert f"Console: {CONSOLE}\n" in texts["failed"]
    assert texts["report"] == (
        "trainguard weekly digest, a .. b\n\nStops:            1 (2.0 GPU hours, $3.00 saved)\n"
        "Alerts:           0\n\ngroup  jobs\nTOTAL  1\n"
    )


@pytest.mark.parametrize("kind", list(built()))
@pytest.mark.parametrize("flavor", ["slack", "teams", "portable"])
def test_the_card_from_the_value_is_the_card_the_text_gave(kind: str, flavor: str) -> None:
    message = built()[kind]
    from_text = custom_notification(message.subject, email_text(message), flavor=flavor)  # type: ignore[arg-type]
    assert message_notification(message, flavor=flavor) == from_text  # type: ignore[arg-type]


def test_a_value_that_reads_like_a_field_stays_what_it_is() -> None:
    # a failure reason of two lines, the second of which looks like "Key: value"
    message = messages.failed("job-x", "Failed", "boom\nTraceback: line 3", "g", "", REGION)
    fields = dict(message.fields())
    assert fields["Reason"] == "boom\nTraceback: line 3" and "Traceback" not in fields
    card = message_notification(message)
    assert "Traceback" not in card["metadata"].get("additionalContext", {})
    # issue 21: the line break is shown, never rendered (it could end the code span)
    assert "`boom \u23ce Traceback: line 3`" in card["content"]["description"]


def test_the_outbox_keeps_the_value_and_still_sends_old_text_items() -> None:
    outbox, notifier = FakeOutbox(), FakeNotifier()
    message = built()["config"]
    notifier.fail("publish", RuntimeError("SNS is down"))
    assert Mail(outbox, notifier, 100.0).send("k-new", message)  # written, its send failed
    outbox.enqueue("k-old", "[trainguard] old", "Job:     old\n", 50.0, 0.0)  # a text item
    (item,) = [i for i in outbox.pending_emails(1e9) if i["sk"] == "k-new"]
    assert Message.from_item(item["message"]) == message
    Mail(outbox, notifier, 1e9).drain()
    sent = {e.subject: e.body for e in notifier.take()}
    assert sent == {"[trainguard] old": "Job:     old\n", message.subject: email_text(message)}
    assert Message.from_item(message.to_item()) == message
