"""Resumable stops and ``trainguard revive`` (trainguard.logic.revive) over the fakes: a stop
says whether it can be resumed; a revival is requested once, created once by the tick from the
stopped job's own description (same checkpoints, its tags, a link to what it continues),
protected from the rule its owner overruled, and refused in one line for every reason not to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fakes import ACCOUNT, FakeJob
from test_logic_evaluator import REFERENCES
from world import TAGS, World

from trainguard.config import Control, Controls
from trainguard.logic import retry, revive
from trainguard.logic.actions import Act
from trainguard.models import CheckpointsUnreadable, CreateRefused
from trainguard.ports import Checkpoints

pytestmark = pytest.mark.unit

ROLE = f"arn:aws:iam::{ACCOUNT}:role/training"
CKPT = "s3://team-bucket/ckpt/worse"
CHECKPOINTED = {"CheckpointConfig": {"S3Uri": CKPT, "LocalPath": "/opt/ml/checkpoints"}}


@dataclass
class ReviveWorld(World):
    roles: tuple[str, ...] = (ROLE,)

    def deps(self, policy: Any = None) -> Any:
        deps = super().deps(policy)
        deps.retry_roles = self.roles
        return deps

    def references(self) -> None:
        for i in range(3):
            self.complete_with(f"ref-{i}", [v + 0.01 * i for v in REFERENCES])
        self.emails()

    def stopped(
        self, name: str = "worse", *, checkpoint: bool = True, tags: dict[str, str] | None = None
    ) -> FakeJob:
        """A job the median rule stops at its fifth report (its checkpoints stored)."""
        job = self.start(name, tags)
        if checkpoint:
            job.extra.update(CHECKPOINTED)
            self.fakes.checkpoints.put(f"{CKPT}/step-5.pt")
        self.report(job, [1.5 - 0.01 * i for i in range(5)])
        self.fakes.advance(6)
        assert self.tick().stops == 1
        self.end(job, "Stopped")
        return job

    def revive(self, name: str = "worse", **kwargs: Any) -> revive.Answer:
        controls = kwargs.pop("controls", Controls())
        return revive.request(
            self.deps(),
            name,
            by="arn:aws:iam::123456789012:user/ana",
            reason=kwargs.pop("reason", "it was my best"),
            now=self.fakes.now,
            controls=controls,
        )

    def resume(self, controls: Controls | None = None) -> int:
        self.fakes.advance(1)  # the next tick
        return Act(self.deps(), self.fakes.now, controls or Controls()).resume_open()

    def bodies(self) -> list[str]:
        return [e.body for e in self.fakes.notifier.take()]


def world() -> ReviveWorld:
    w = ReviveWorld()
    w.references()
    return w


# ---- 1. a resumable stop ----------------------------------------------------------------------
def test_a_checkpointed_stop_says_it_is_resumable_and_gives_the_command() -> None:
    w = world()
    w.stopped()
    (body,) = w.bodies()
    assert f"Resumable:  yes: its checkpoints are in {CKPT} (trainguard revive worse)" in body
    assert "trainguard revive worse --reason WHY" in body
    (audit,) = [d for d in w.decisions("worse") if d["action"] == "STOPPED"]
    assert (audit["resumable"], audit["checkpoint"]) == (True, CKPT)
    stop = w.fakes.ledger.get_action(w.record("worse").run, "median#stop")
    assert stop is not None and stop["resumable"] is True


def test_a_stop_without_checkpoints_says_it_cannot_be_resumed_and_why() -> None:
    w = world()
    w.stopped(checkpoint=False)
    (body,) = w.bodies()
    assert "Resumable:  no: it has no CheckpointConfig, so a new run would start from" in body
    assert "trainguard revive" not in body
    (audit,) = [d for d in w.decisions("worse") if d["action"] == "STOPPED"]
    assert (audit["resumable"], audit["checkpoint"]) == (False, None)


# ---- 2. trainguard revive -----------------------------------------------------------------------
def test_revive_recreates_the_stopped_job_once_on_its_checkpoints() -> None:
    w = world()
    w.stopped()
    w.emails()
    answer = w.revive()
    assert answer.ok and answer.name == "worse-revived-1"
    assert answer.line.startswith("REVIVE REQUESTED: worse is created again as worse-revived-1")
    assert w.fakes.training_jobs.created == []  # the tick creates it
    # a duplicate command claims nothing more
    assert w.revive().line == "a revival of worse is under way (as worse-revived-1)"
    w.resume()
    (request,) = w.fakes.training_jobs.created
    assert request["TrainingJobName"] == "worse-revived-1"
    assert request["CheckpointConfig"] == CHECKPOINTED["CheckpointConfig"]
    tags = {t["Key"]: t["Value"] for t in request["Tags"]}
    assert tags == {**TAGS, "trainguard:revived-from": "worse"}
    (subject,) = w.emails()
    assert subject == "[trainguard] REVIVED worse as worse-revived-1"
    actions = [d["action"] for d in w.decisions("worse")]
    assert actions[-2:] == [
        "REVIVE REQUESTED (by arn:aws:iam::123456789012:user/ana)",
        "REVIVED (as worse-revived-1)",
    ]
    last = w.decisions("worse")[-1]
    assert (last["by"], last["why"]) == ("arn:aws:iam::123456789012:user/ana", "it was my best")
    # later commands and ticks: nothing again
    assert w.revive().line.startswith("worse was revived already as worse-revived-1 (by arn:")
    w.resume()
    assert len(w.fakes.training_jobs.created) == 1 and w.emails() == []


def test_a_killed_tick_after_the_create_is_finished_without_a_second_job() -> None:
    w = world()
    w.stopped()
    w.revive()
    # the create goes through, then the tick dies before it records the outcome
    w.fakes.ledger.fail("finish_action", RuntimeError("killed"))
    w.resume()
    assert len(w.fakes.training_jobs.created) == 1
    w.emails()
    w.fakes.advance(5)
    w.resume()
    assert len(w.fakes.training_jobs.created) == 1
    assert w.decisions("worse")[-1]["action"] == "REVIVED (as worse-revived-1)"


def test_the_revival_is_protected_from_the_rule_that_stopped_it_only() -> None:
    w = world()
    w.stopped()
    w.revive()
    w.resume()
    w.emails()
    revived = w.fakes.training_jobs.jobs["worse-revived-1"]
    w.event(revived)  # its InProgress event registers it
    w.report(revived, [1.44, 1.43])  # steps 7 and 8: the original's curve goes on
    w.fakes.advance(3)
    tick = w.tick()
    assert (tick.stops, tick.would_stops) == (0, 1)
    assert w.decisions("worse-revived-1")[-1]["action"] == "WOULD STOP (protected)"
    assert "worse-revived-1" not in w.fakes.training_jobs.stopped


def test_a_forged_revived_from_tag_protects_nothing() -> None:
    w = world()
    w.stopped()
    w.emails()
    forged = w.start("intruder", {**TAGS, "trainguard:revived-from": "worse"})
    w.report(forged, [1.5 - 0.01 * i for i in range(5)])
    w.fakes.advance(6)
    assert w.tick().stops == 1 and "intruder" in w.fakes.training_jobs.stopped


@pytest.mark.parametrize(
    ("setup", "line"),
    [
        ("unknown", "trainguard has no record of worse: it revives only the jobs it stopped"),
        ("not stopped", "trainguard did not stop worse: it revives only the jobs it stopped"),
        ("no checkpoints", "worse cannot be resumed: it has no CheckpointConfig"),
        ("no roles", "this deployment passes no role to SageMaker (its retryRoleArns is empty)"),
        ("other role", "its role arn:aws:iam::123456789012:role/other is not among"),
        ("name taken", "the name worse-revived-1 is taken already: worse is not revived"),
        ("empty prefix", f"worse cannot be resumed: its checkpoint prefix {CKPT} is empty"),
        ("unreadable", f"worse cannot be resumed: its checkpoint prefix {CKPT} cannot be read"),
        ("name reused", "worse: the name belongs to another job now (the stopped run is gone)"),
        ("paused", "worse is not revived while group g paused by bo: quota: trainguard resume"),
    ],
)
def test_every_refusal_is_one_line_and_creates_nothing(setup: str, line: str) -> None:
    w = world()
    controls = Controls()
    if setup == "unknown":
        pass
    elif setup == "not stopped":
        w.complete_with("worse", [0.5])
    else:
        w.stopped(checkpoint=setup != "no checkpoints")
    if setup == "no roles":
        w.roles = ()
    elif setup == "other role":
        w.fakes.training_jobs.jobs["worse"].role_arn = f"arn:aws:iam::{ACCOUNT}:role/other"
    elif setup == "name taken":
        w.fakes.training_jobs.add(FakeJob("worse-revived-1", {}))
    elif setup == "empty prefix":
        w.fakes.checkpoints.keys.clear()
    elif setup == "unreadable":
        w.fakes.checkpoints.fail("has_objects", CheckpointsUnreadable("AccessDenied: no"))
    elif setup == "name reused":
        w.fakes.advance(10)
        w.fakes.training_jobs.add(FakeJob("worse", TAGS, start=w.fakes.now))
    elif setup == "paused":
        controls = Controls(groups={"g": Control(paused=True, by="bo", reason="quota")})
    w.emails()
    answer = w.revive(controls=controls)
    assert not answer.ok and answer.line.startswith(line) and "\n" not in answer.line
    w.resume()
    assert not any(
        r["TrainingJobName"].startswith("worse-revived") for r in w.fakes.training_jobs.created
    )


def test_a_pause_that_races_the_request_holds_it_said_once() -> None:
    w = world()
    w.stopped()
    w.revive()
    w.emails()
    paused = Controls(groups={"g": Control(paused=True, by="bo", reason="quota")})
    w.resume(paused)
    w.resume(paused)
    assert w.fakes.training_jobs.created == []
    (subject,) = w.emails()
    assert subject.startswith("[trainguard] NOT REVIVED worse")
    assert w.decisions("worse")[-1]["action"] == (
        "NOT REVIVED (group g paused by bo: quota since the request)"
    )
    # after trainguard resume the owner asks again: revival 2 of the run, a fresh name
    again = w.revive()
    assert again.ok and again.name == "worse-revived-2"


def test_a_create_sagemaker_refuses_is_said_once_and_closed() -> None:
    w = world()
    w.stopped()
    w.revive()
    w.emails()
    w.fakes.training_jobs.fail("create", CreateRefused("AccessDenied: not allowed"))
    w.resume()
    w.resume()
    (subject,) = w.emails()
    assert subject.startswith("[trainguard] NOT REVIVED worse")
    assert w.decisions("worse")[-1]["action"] == "NOT REVIVED (AccessDenied: not allowed)"


def test_a_revival_that_fails_at_once_is_said_once_and_never_recreated() -> None:
    w = world()
    w.stopped()
    w.revive()
    w.resume()
    w.emails()
    revived = w.fakes.training_jobs.jobs["worse-revived-1"]
    w.event(revived)
    w.fakes.advance(1)
    w.end(revived, "Failed", reason="AlgorithmError: no checkpoint found")
    w.end(revived, "Failed", reason="AlgorithmError: no checkpoint found")  # a retried event
    w.fakes.advance(5)
    w.resume()
    subjects = w.emails()
    assert len(subjects) == 1 and subjects[0].startswith("[trainguard] FAILED worse-revived-1")
    assert len(w.fakes.training_jobs.created) == 1


def test_a_revival_stopped_again_is_revived_under_the_chains_next_name() -> None:
    w = world()
    w.stopped()
    w.revive()
    w.resume()
    revived = w.fakes.training_jobs.jobs["worse-revived-1"]
    w.event(revived)
    chain = revive.lineage(w.deps(), w.record("worse-revived-1"))
    assert (chain.base, chain.k, chain.overruled) == ("worse", 1, "median")
    assert retry.retry_name("x" * 70, 1, "-revived-").endswith("-revived-1")
    assert len(retry.retry_name("x" * 70, 1, "-revived-")) <= 63


def test_the_checkpoints_port_says_empty_and_unreadable() -> None:
    port: Checkpoints = w_port()
    assert not port.has_objects("s3://b/none")
    with pytest.raises(CheckpointsUnreadable):
        port.has_objects("gs://b/x")


def w_port() -> Checkpoints:
    from fakes import FakeCheckpoints

    return FakeCheckpoints()


# ---- report, digest and explain count and say it ------------------------------------------------
def test_report_digest_and_explain_count_resumable_stops_and_revivals() -> None:
    from trainguard.logic.digest import build_digest
    from trainguard.logic.report import format_csv, summarize
    from trainguard_tools.explain import format_trail

    w = world()
    w.stopped()
    w.stopped("plain", checkpoint=False)
    w.revive()
    w.resume()
    now = w.fakes.now
    deps = w.deps()
    t = summarize(deps.audit, deps.jobs, deps.catalog, now - 86400, now + 60).total
    assert (t.stops, t.resumable_stops, t.unresumable_stops, t.revived) == (2, 1, 1, 1)
    # one logical job: the revived stop saved nothing after all, the other stop's saving stands
    (plain,) = [d for d in w.decisions("plain") if d["action"] == "STOPPED"]
    assert (
        t.dollars_saved == pytest.approx(plain["estimated_dollars_saved"])
        and plain["estimated_dollars_saved"]
    )
    assert "resumable_stops,unresumable_stops,revived" in format_csv(
        summarize(deps.audit, deps.jobs, deps.catalog, now - 86400, now + 60)
    )
    body = build_digest(w.fakes, deps.catalog, now + 60).body()
    assert "1 (trainguard revive JOB continues them); 1 not resumable" in body
    trail = "\n".join(format_trail(w.decisions("worse")))
    assert f"resumable: its checkpoints are in {CKPT}; continue it with: trainguard revive" in (
        trail
    )
    assert "not resumable: the job has no CheckpointConfig" in "\n".join(
        format_trail(w.decisions("plain"))
    )


# ---- 3. one logical job --------------------------------------------------------------------------
def test_a_revival_continues_its_originals_curve_and_completes_as_one_reference() -> None:
    from world import REFS

    w = world()
    original = w.stopped()
    trained = original.end - original.start  # its start to its stop
    w.revive()
    w.resume()
    w.fakes.advance(3)  # the restart: provisioning, download, checkpoint restore
    revived = w.fakes.training_jobs.jobs["worse-revived-1"]
    revived.start = w.fakes.now  # TrainingStartTime: training resumes
    w.event(revived)
    record = w.record("worse-revived-1")
    assert record.start_time == revived.start - trained  # steps continue, restart not counted
    seeded = w.fakes.running.get_jobs([record.run])[0].progress
    assert seeded is not None and seeded.summary.count == 5 and seeded.summary.last_step == 5
    w.report(revived, [1.40, 1.39, 1.38])
    w.fakes.advance(4)
    w.tick()
    progress = w.fakes.running.get_jobs([record.run])[0].progress
    assert progress is not None and progress.summary.count == 8
    steps = trained / 60.0
    assert progress.summary.last_step == steps + 3
    # it completes: the group's reference is the whole curve, under the revival's run
    w.end(revived)
    stored = w.fakes.references.get_curves(REFS, [str(record.run)])[str(record.run)][0]
    assert [s for s, _ in stored] == [1, 2, 3, 4, 5, steps + 1, steps + 2, steps + 3]
    assert w.fakes.references.get_stats(REFS).references == 4  # the 3 references and it


# ---- 4. revive when the evidence changes ---------------------------------------------------------
def auto_world(**revive_settings: Any) -> ReviveWorld:
    from dataclasses import replace as dc_replace

    from trainguard.config.policy import ReviveSettings

    w = world()
    settings = ReviveSettings(**{"auto": True, **revive_settings})
    w.fakes.policy = dc_replace(w.fakes.policy, revive=settings)
    return w


def worse_references(w: ReviveWorld, n: int) -> None:
    for i in range(n):
        w.complete_with(f"bad-{i}", [2.0] * 10)


def test_off_by_default_the_evidence_revives_nothing() -> None:
    w = world()
    w.stopped()
    worse_references(w, 4)
    w.resume()
    assert w.fakes.training_jobs.created == []


def test_a_completion_that_changes_the_evidence_revives_the_stopped_job_once() -> None:
    w = auto_world()
    w.stopped()
    w.emails()
    worse_references(w, 2)  # the median at step 5 is still better than worse's 1.46
    assert not [d for d in w.decisions("worse") if d["rule"] == "revive"]
    worse_references(w, 2)  # now it is not: bad-1 of the second pair changed the evidence
    (request,) = [d for d in w.decisions("worse") if d["rule"] == "revive"]
    assert request["action"] == f"REVIVE REQUESTED (by {revive.EVIDENCE_BY})"
    assert request["why"] == "bad-0 completed: the group's rules no longer stop worse"
    w.emails()
    w.resume()
    assert [r["TrainingJobName"] for r in w.fakes.training_jobs.created] == ["worse-revived-1"]
    (email,) = w.fakes.notifier.take()
    assert email.subject == "[trainguard] REVIVED worse as worse-revived-1"
    assert "bad-0 completed: the group's rules no longer stop worse" in email.body


@pytest.mark.parametrize("hold", ["observe", "paused", "per day"])
def test_observe_mode_a_pause_and_the_daily_limit_never_revive(hold: str) -> None:
    from dataclasses import replace as dc_replace

    w = auto_world()
    untagged = {k: v for k, v in TAGS.items() if k != "trainguard:mode"}
    w.fakes.policy = dc_replace(w.fakes.policy, mode="enforce")
    w.stopped(tags=untagged)  # in enforce by the deployed mode
    if hold == "observe":
        w.fakes.controls.set("GROUP#g", mode="observe")
    if hold == "paused":
        w.fakes.controls.set("GROUP#g", paused=True, by="bo")
    if hold == "per day":
        w.stopped("worse2")
        worse_references(w, 4)
        w.resume()
        assert len(w.fakes.training_jobs.created) == 1  # one a group a day
        return
    worse_references(w, 4)
    w.resume()
    assert w.fakes.training_jobs.created == []


def test_a_revival_is_one_more_action_kind_with_its_carry_out() -> None:
    from trainguard.logic.actions import CARRY_OUTS
    from trainguard.logic.ledger import ActionKind, Outcome, OutcomeKind, tally_of

    assert ActionKind.of("revive#2", {"revive": {}}) is ActionKind.REVIVE
    assert CARRY_OUTS[ActionKind.REVIVE] is revive.carry_out
    assert tally_of(Outcome(OutcomeKind.REVIVED, "as a-revived-1").text) == "revived"
    assert tally_of("REVIVE REQUESTED (by ana)") == "other"


@pytest.mark.parametrize(
    ("policy_on", "switch", "revives"), [(False, True, True), (True, False, False)]
)
def test_the_runtime_switch_turns_revival_on_new_evidence_on_or_off(
    policy_on: bool, switch: bool, revives: bool
) -> None:
    # `trainguard revive-auto on|off [--group G]` writes the control, over the policy's reviveAuto
    w = auto_world() if policy_on else world()
    w.stopped()
    w.fakes.controls.set("GROUP#g", revive_auto=switch, by="bo")
    worse_references(w, 4)
    w.resume()
    created = [r["TrainingJobName"] for r in w.fakes.training_jobs.created]
    assert created == (["worse-revived-1"] if revives else [])


def test_the_revival_switch_is_announced_and_parsed_back() -> None:
    from trainguard.config import parse_control
    from trainguard.logic import messages

    control = parse_control("GROUP#g", '{"revive_auto": true, "by": "bo"}')
    assert control.revive_auto is True
    message = messages.control_change(
        "GROUP#g", "g", None, False, None, "bo", "2026-12-06T12:00:00Z", "try it",
        revive_auto=True, revive_changed=True,
    )  # fmt: skip
    assert message.subject == "[trainguard] REVIVE-AUTO group g: on"
    assert "Revive:  on new evidence: on" in email_text_of(message)


def email_text_of(message: Any) -> str:
    from trainguard.message import email_text

    return email_text(message)
