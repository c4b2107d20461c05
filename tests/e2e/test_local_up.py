"""``trainguard local up --with-demo``: a control plane that stays up, with boto3 and the
operator commands as its clients; ``local advance`` moves its clock and ticks; Ctrl-C stops it.

One ``local up`` (a subprocess: the real CDK deploy into moto server, the demo's short fleet)
serves every test of this module; the last one interrupts it."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import boto3
import pytest

from trainguard_tools.cli import main

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 420


def _free_port_pair() -> int:
    """A loopback port P with P + 1 free too (the emulator and its control endpoint)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
    raise RuntimeError("no free pair of loopback ports")


@dataclass
class Up:
    process: subprocess.Popen[str]
    endpoint: str
    lines: list[str] = field(default_factory=list)

    def client(self, service: str) -> object:
        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1")


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    if shutil.which("npx") is None or not (REPO_ROOT / "node_modules" / ".bin" / "cdk").exists():
        pytest.skip("the pinned CDK CLI is not installed (make setup)")
    port = _free_port_pair()
    out = tmp_path_factory.mktemp("local-up")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "trainguard_tools.cli",
            "local",
            "up",
            "--with-demo",
            "--quick",
            "--manual-clock",
            "--port",
            str(port),
            "--out",
            str(out),
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=REPO_ROOT,
    )
    running = Up(process, f"http://localhost:{port}")
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            running.lines.append(line)
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            process.kill()
            pytest.fail("local up did not come up:\n" + "".join(running.lines[-30:]))
        if "Ctrl-C stops it" in line:
            break
        if process.poll() is not None and lines.empty():
            pytest.fail("local up exited:\n" + "".join(running.lines[-30:]))
    yield running
    if process.poll() is None:
        process.kill()
        process.wait()


@pytest.fixture
def pointed_at(up: Up, monkeypatch: pytest.MonkeyPatch) -> Up:
    """The export lines `local up` printed, applied."""
    exports = [line.split("export ", 1)[1] for line in up.lines if "export " in line]
    assert exports, "local up printed no export lines"
    for pair in " ".join(exports).split():
        key, _, value = pair.partition("=")
        monkeypatch.setenv(key, value)
    assert os.environ["AWS_ENDPOINT_URL"] == up.endpoint
    return up


def test_it_answers_boto3_with_the_demo_fleet_and_the_stack(up: Up) -> None:
    sm = up.client("sagemaker")
    names = {
        s["TrainingJobName"]
        for s in sm.list_training_jobs(MaxResults=100)[  # type: ignore[attr-defined]
            "TrainingJobSummaries"
        ]
    }
    assert {"digits-mlp-030", "capacity-job"} <= names
    stacks = up.client("cloudformation").describe_stacks(StackName="Trainguard")  # type: ignore[attr-defined]
    assert stacks["Stacks"][0]["StackStatus"].endswith("_COMPLETE")
    up.client("cloudwatch").get_dashboard(DashboardName="trainguard")  # type: ignore[attr-defined]


def test_advance_moves_the_clock_and_ticks(
    pointed_at: Up, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = []
    for _ in range(2):
        assert main(["local", "advance", "--minutes", "2", "--json"]) == 0
        answers.append(json.loads(capsys.readouterr().out))
    first, second = answers
    assert (first["ticks"], second["ticks"]) == (2, 2)  # the evaluator's schedule: 1 minute
    moved = datetime.fromisoformat(second["now"]) - datetime.fromisoformat(first["now"])
    assert moved.total_seconds() == 120
    assert first["failed"] == [] and second["failed"] == []


def test_status_lists_the_demo_jobs_and_a_job_created_with_boto3(
    pointed_at: Up, capsys: pytest.CaptureFixture[str]
) -> None:
    pointed_at.client("sagemaker").create_training_job(  # type: ignore[attr-defined]
        TrainingJobName="my-own-job",
        AlgorithmSpecification={"TrainingImage": "my-image", "TrainingInputMode": "File"},
        RoleArn="arn:aws:iam::123456789012:role/my-sagemaker-role",
        OutputDataConfig={"S3OutputPath": "s3://my-bucket/out/"},
        ResourceConfig={"InstanceType": "ml.g5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
        StoppingCondition={"MaxRuntimeInSeconds": 7200},
        Tags=[
            {"Key": "trainguard:group", "Value": "my-group"},
            {"Key": "trainguard:objective", "Value": "val_loss"},
        ],
    )
    assert main(["local", "advance", "--minutes", "1"]) == 0
    capsys.readouterr()
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "Group my-group" in out and "my-own-job" in out
    assert "Group breast-cancer-ddp" in out  # the demo's distributed jobs are still running


def test_local_invoke_uses_the_running_plane_in_seconds(
    pointed_at: Up, capsys: pytest.CaptureFixture[str]
) -> None:
    began = time.monotonic()
    code = main(
        [
            "local",
            "invoke",
            "evaluator",
            "--event",
            str(REPO_ROOT / "examples" / "tick.json"),
            "--endpoint",
            pointed_at.endpoint,
            "--json",
        ]
    )
    elapsed = time.monotonic() - began
    invocation = json.loads(capsys.readouterr().out)
    assert code == 0 and invocation["ok"], invocation["error"]
    assert invocation["result"]["jobs"] >= 1  # the running plane's jobs, not an empty one
    assert elapsed < 20  # no deploy (a fresh one takes 20-40 s)


def test_sigint_stops_it_cleanly(up: Up) -> None:
    up.process.send_signal(signal.SIGINT)
    assert up.process.wait(timeout=60) == 0
    time.sleep(0.2)  # the reader thread's last lines
    assert "trainguard local up: stopped" in "".join(up.lines)
    assert "Traceback" not in "".join(up.lines)
    with socket.socket() as s:  # nothing listens on the port any more (TIME_WAIT aside)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", int(up.endpoint.rsplit(":", 1)[1])))
