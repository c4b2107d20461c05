"""Messages a person can act on at 3 a.m. (issue 22) and whose user-written strings stay data
(issue 21): subjects within SNS's limit that keep the verb, the rule and the key fact; one
precision and real minus signs; no field that means nothing for the rule; every message ends
with what to do; a FailureReason or a group tag cannot pose as a line, a field, a link or a
thread of ours in the email, the chat card, the SNS subject or a CSV report."""

from __future__ import annotations

import csv
import io

import pytest
from test_logic_health import about, four_nodes, run_minutes
from world import World

from trainguard.adapters.chat import message_notification
from trainguard.core.decision import Decision
from trainguard.logic import messages
from trainguard.logic.report import Summary, Totals, csv_cell, format_csv, format_text
from trainguard.message import (
    SUBJECT_LIMIT,
    Message,
    email_text,
    field,
    one_line,
    subject_line,
)

pytestmark = pytest.mark.unit

REGION = "us-east-1"
SDK = "sdk2-ddp-2026-12-06-06-40-49-544"  # a SageMaker SDK job name: base + launch time
LONG = "pytorch-training-resnet152-imagenet-finetune-2026-12-06-06-40-49-544"  # 63 chars


def decision(rule: str, **kw: object) -> Decision:
    values: dict[str, object] = {
        "job": SDK,
        "rule": rule,
        "stop": True,
        "step": None,
        "value": 1.0,
        "threshold": 2.0,
        "references": 0,
        "reason": "why",
    }
    values.update(kw)
    return Decision(**values)  # type: ignore[arg-type]


# ---- subjects --------------------------------------------------------------------------------
@pytest.mark.parametrize("job", [SDK, LONG])
def test_a_straggler_subject_keeps_its_host_and_numbers(job: str) -> None:
    d = decision(
        "straggler", job=job, value=45.15, threshold=95.15, reason=f"{job}/algo-3 at 45.15% per GPU"
    )
    subject = messages.alert_subject(d)
    assert len(subject) <= SUBJECT_LIMIT
    assert subject.startswith("[trainguard] ALERT ")
    assert subject.endswith(": straggler host algo-3, 45.15% vs 95.15% per GPU")


def test_a_long_job_name_loses_its_middle_never_the_fact() -> None:
    d = decision("catch-up", job=LONG, value=0.4993, threshold=0.01396, step=1200.0)
    subject = messages.stop_subject(d, "WOULD STOP (observe)")
    assert len(subject) <= SUBJECT_LIMIT
    fact = ": catch-up rule, 0.4993 vs 0.01396 at step 1200"
    assert subject.endswith(fact)
    job = subject.removeprefix("[trainguard] WOULD STOP (observe) ").removesuffix(fact)
    assert "..." in job and job.startswith(LONG[:8]) and job.endswith(LONG[-6:])
    # a short name is kept whole
    assert SDK in messages.stop_subject(
        decision("catch-up", value=0.4993, threshold=0.01396), "STOPPED"
    )


@pytest.mark.parametrize("job", [SDK, LONG])
def test_gpu_idle_and_hang_subjects_keep_their_facts(job: str) -> None:
    subject = messages.gpu_idle_subject(f"{job}/algo-12", 3.25, 20.0)
    assert len(subject) <= SUBJECT_LIMIT and subject.endswith("/algo-12 (3.25%/GPU, 20 min)")
    hung = decision(
        "hung",
        job=job,
        value=6.0,
        threshold=5.0,
        reason="hung (mixed: 1 pinned, 1 idle): objective silent",
    )
    subject = messages.alert_subject(hung)
    assert len(subject) <= SUBJECT_LIMIT
    assert subject.endswith(": hung (mixed: 1 pinned, 1 idle), objective silent 6 min > 5")


def test_a_failed_subject_cuts_the_reason_not_the_job_and_holds_no_control_character() -> None:
    reason = "AlgorithmError:\x00 boom\r\nJob: other\u2028Console: https://evil.example " + "x" * 99
    message = messages.failed(SDK, "Failed", reason, "g", "", REGION)
    subject = subject_line(message.subject)
    assert subject == message.subject  # built within the limit already
    assert len(subject) <= SUBJECT_LIMIT and SDK in subject and subject.endswith("...")
    assert all(" " <= ch <= "~" for ch in subject)  # ASCII, no control character, one line


def test_the_subject_sanitizer_writes_ascii() -> None:
    assert subject_line("a\u2212b \u00d7 c\x00\x07\nd\u2029e") == "a-b x c / d / e"
    assert subject_line("\x00") == "trainguard"
    assert len(subject_line("x" * 300)) == SUBJECT_LIMIT


# ---- numbers ---------------------------------------------------------------------------------
def test_the_catch_up_threshold_of_the_subject_is_in_the_sentence() -> None:
    from trainguard.core.catchup import CatchUpModel, CatchUpRule

    refs = {
        "r1": [(1.0, 0.9), (2.0, 0.5), (3.0, 0.02)],
        "r2": [(1.0, 0.8), (2.0, 0.4), (3.0, 0.015)],
        "r3": [(1.0, 0.7), (2.0, 0.3), (3.0, 0.004102)],
    }
    model = CatchUpModel.build(refs, "minimize")  # type: ignore[arg-type]
    rule = CatchUpRule(direction="minimize", noise_multiple=0.0, consecutive=1)
    d = rule.decide(SDK, [(1.0, 0.9), (2.0, 0.4993)], model)  # type: ignore[arg-type]
    assert d.stop and d.threshold is not None
    subject = messages.stop_subject(d, "STOPPED")
    shown = messages.number(d.threshold)
    assert f"vs {shown}" in subject and f"at most {shown}" in d.reason
    assert "\u2212 at most" in d.reason and " - " not in d.reason  # a minus sign, not a dash
    assert messages.number(-0.5) == "\u22120.5" and messages.number(1.2e-05) == "1.2e\u221205"


# ---- fields that mean something --------------------------------------------------------------
def test_fields_that_mean_nothing_for_the_rule_are_left_out() -> None:
    runtime = decision("max_runtime", value=2419200.0, threshold=259200.0)
    text = email_text(
        messages.decision(
            runtime, subject="s", outcome="ALERT", mode="observe", region=REGION, details={}
        )
    )
    assert "Step:" not in text and "n/a" not in text and "e+" not in text
    assert "Value:      672 h\n" in text and "Threshold:  72 h\n" in text
    assert "References" not in text
    idle = decision("gpu_idle", value=2.0, threshold=10.0, step=None)
    text = email_text(
        messages.decision(
            idle, subject="s", outcome="ALERT", mode="observe", region=REGION, details={}
        )
    )
    assert "References" not in text and "Value:      2% per GPU" in text
    median = decision("median", step=12.0, references=3)
    text = email_text(
        messages.decision(
            median, subject="s", outcome="STOPPED", mode="enforce", region=REGION, details={}
        )
    )
    assert "Step:       12\n" in text and "References: 3\n" in text


def test_status_and_savings_say_what_they_know() -> None:
    assert messages.status("Failed", "Failed") == "Failed"
    assert messages.status("Failed", None) == "Failed"
    assert messages.status("Failed", "MaxRuntimeExceeded") == "Failed (MaxRuntimeExceeded)"
    assert messages.savings(12.5, priced=True) == "$12.50"
    assert messages.savings(None, priced=True) == "no estimate yet: no completed job in the group"
    assert messages.savings(None, priced=True, bound=40.0).startswith("up to $40.00 (")
    assert messages.savings(None, priced=False) == "unknown: no price for the instance type"


# ---- what to do ------------------------------------------------------------------------------
def test_every_message_ends_with_what_to_do() -> None:
    d = decision("median", step=1.0, references=3)
    built = [
        messages.decision(
            d, subject="s", outcome="STOPPED", mode="enforce", region=REGION, details={}
        ),
        messages.decision(
            d,
            subject="s",
            outcome="WOULD STOP (observe)",
            mode="observe",
            region=REGION,
            details={},
        ),
        messages.failed(SDK, "Failed", "boom", "g", "", REGION),
        messages.config_error(SDK, "bad tag", REGION),
        messages.gpu_recovered(f"{SDK}/algo-1", 3.0, REGION, SDK),
        messages.retry("s", {"Job": SDK}, REGION, SDK),
    ]
    for message in built:
        text = email_text(message)
        assert f"What to do:\n  trainguard explain {SDK}   " in text
        assert f"Logs: {messages.logs_link(REGION, SDK)}\n" in text
        assert text.endswith(f"Console: {messages.console_link(REGION, SDK)}\n")
    running = email_text(built[1])
    assert "tag the job trainguard:protect=true" in running and "trainguard pause" in running


def test_a_hang_alert_says_whether_trainguard_will_stop_the_job() -> None:
    assert messages.hang_stop(None, "enforce", True).startswith("no: hangStopAfterMinutes")
    assert messages.hang_stop(30.0, "enforce", True) == "yes: trainguard stops it once hung 30 min"
    assert messages.hang_stop(90.0, "observe", False) == (
        "no: the job is in observe (in enforce: after 1 h 30 min hung)"
    )
    assert messages.after_hang({"hung:1767225600#alert", "median#report"}) == (
        "trainguard alerted that this job was hung (its ALERT ... hung email, silent since "
        "2026-01-01 00:00 UTC)"
    )
    assert messages.after_hang({"hung:1767225600#alert", "hung#stop"}).endswith(
        "; it then decided to stop it for the hang"
    )
    assert messages.after_hang({"median#report"}) == ""


def test_the_failed_email_of_a_hung_job_refers_back_to_its_hang_alert() -> None:
    world = World()
    job = four_nodes(world, "hangs")
    run_minutes(world, job, 20, {h: 95.0 for h in range(1, 5)}, varying=True)
    (alert,) = about(
        run_minutes(world, job, 15, {h: 99.5 for h in range(1, 5)}, report=False), "hung"
    )
    assert "Auto-stop:  no: hangStopAfterMinutes is not set (trainguard alerts only)" in alert.body
    world.end(job, "Failed", reason="AlgorithmError: NCCL timeout\nJob: other-job")
    (failed,) = about(world.fakes.notifier.take(), "FAILED")
    assert (
        failed.subject == "[trainguard] FAILED hangs: AlgorithmError: NCCL timeout / Job: other-job"
    )
    assert "Status:  Failed\n" in failed.body  # not "Failed (Failed)"
    assert "Hang:    trainguard alerted that this job was hung" in failed.body
    assert "Reason:  AlgorithmError: NCCL timeout \u23ce Job: other-job\n" in failed.body
    assert [line for line in failed.body.splitlines() if line.startswith("Job:")] == [
        "Job:     hangs"
    ]


# ---- user-written strings are data -----------------------------------------------------------
EVIL = "boom\n\nJob: other-job\nConsole: https://evil.example/x\u2028Outcome: STOPPED\x00"


def test_a_failure_reason_poses_as_no_line_of_the_email() -> None:
    text = email_text(messages.failed("job-x", "Failed", EVIL, "g", "", REGION))
    lines = text.splitlines()
    assert [ln for ln in lines if ln.startswith(("Job:", "Console:", "Outcome:"))] == [
        "Job:     job-x",
        f"Console: {messages.console_link(REGION, 'job-x')}",
    ]
    assert "\x00" not in text and "\u2028" not in text


@pytest.mark.parametrize("flavor", ["slack", "teams", "portable"])
def test_a_failure_reason_or_a_group_poses_as_no_field_link_or_thread_of_the_card(
    flavor: str,
) -> None:
    group = "g\u2028Job: other-job\u2029https://evil.example/y"
    message = messages.failed("job-x", "Failed", EVIL, group, "", REGION)
    card = message_notification(message, flavor=flavor)  # type: ignore[arg-type]
    assert card["metadata"]["threadId"] == "trainguard-job-x"
    assert card["metadata"]["additionalContext"] == {"job": "job-x"}
    assert not any("evil" in step for step in card["content"]["nextSteps"])
    assert "://evil" not in card["content"]["title"] + card["metadata"]["summary"]
    description = card["content"]["description"]
    assert all(ch not in description for ch in "\x00\u2028\u2029")
    # each field one line: the reason and the group each stay inside their own line
    assert sum(line.count("evil.example") for line in description.splitlines()) == 2
    assert (
        len([ln for ln in description.splitlines() if "Job" in ln and "other-job" not in ln]) == 1
    )


def test_a_field_whose_value_is_a_url_is_no_link() -> None:
    message = Message.of("s", [field("Reason", "https://evil.example/z")], 9)
    assert "nextSteps" not in message_notification(message)["content"]


def test_one_line_shows_line_breaks_and_drops_control_characters() -> None:
    assert (
        one_line("a\r\nb\u2028c\u2029d\x85e\x0bf")
        == "a \u23ce b \u23ce c \u23ce d \u23ce e \u23ce f"
    )
    assert one_line("a\x00b\u202ec\td") == "abc d"


def test_csv_reports_neutralize_formulas() -> None:
    assert [csv_cell(v) for v in ("=1+1", "+1", "-1", "@SUM(A1)", " =x", "plain")] == [
        "'=1+1",
        "'+1",
        "'-1",
        "'@SUM(A1)",
        "' =x",
        "plain",
    ]
    groups = {'=HYPERLINK("x")': Totals(), "a\nb": Totals()}
    summary = Summary(0.0, 86400.0, Totals(), groups, [], {})
    rows = list(csv.reader(io.StringIO(format_csv(summary))))
    assert [r[0] for r in rows] == ["group", '\'=HYPERLINK("x")', "a \u23ce b", "TOTAL"]
    assert "a \u23ce b" in format_text(summary)


def test_a_stop_with_no_completed_job_in_its_group_gives_the_bound_not_unknown() -> None:
    world = World()
    job = world.start("blows-up")  # ml.g5.xlarge, priced; MaxRuntimeInSeconds 1 day
    world.emails()
    world.report(job, [1.0, 0.9, 1e9, 1e12])
    world.fakes.advance(6)
    world.tick()
    (email,) = world.fakes.notifier.take()
    assert email.subject == "[trainguard] STOPPED blows-up: diverged, 1e+12 vs 5e+09 at step 4"
    assert "Savings:    up to $" in email.body and "no completed job in the group yet" in email.body
    assert "unknown" not in email.body and "References" not in email.body
    assert "What to do:\n  trainguard explain blows-up " in email.body


def test_a_long_outcome_is_said_by_its_headline_in_the_subject() -> None:
    d = decision("median", job=SDK, value=0.9, threshold=0.6, step=12.0, references=3)
    outcome = "COULD NOT STOP (AccessDenied: not authorized to perform sagemaker:StopTrainingJob)"
    subject = messages.stop_subject(d, outcome)
    assert subject == f"[trainguard] COULD NOT STOP {SDK}: median rule, 0.9 > 0.6 at step 12"
    short = messages.stop_subject(Decision(**{**d.to_dict(), "job": "worse"}), outcome)
    assert short.startswith("[trainguard] COULD NOT STOP (AccessDenied: not autho")
    assert short.endswith("...) worse: median rule, 0.9 > 0.6 at step 12")
    assert len(short) <= SUBJECT_LIMIT
    assert messages.stop_subject(d, "WOULD STOP (observe)").startswith(
        "[trainguard] WOULD STOP (observe) "
    )


def test_a_retry_subject_names_the_retry_once_when_it_must() -> None:
    assert messages.retried_subject("big", "big-retry-1", 1, 2) == (
        "[trainguard] RETRIED big as big-retry-1 (attempt 1 of 2)"
    )
    subject = messages.retried_subject(LONG, f"{LONG}-retry-1", 1, 2)
    assert len(subject) <= SUBJECT_LIMIT and subject.endswith(" as ...-retry-1 (attempt 1 of 2)")


def test_the_health_rules_say_how_long_the_job_has_run_not_a_step() -> None:
    idle = decision("gpu_idle", step=95.0, value=2.5, threshold=10.0)
    text = email_text(
        messages.decision(
            idle, subject="s", outcome="ALERT", mode="observe", region=REGION, details={}
        )
    )
    assert "Running:    1 h 35 min\n" in text and "Step:" not in text
    assert " at step" not in messages.alert_subject(idle)
