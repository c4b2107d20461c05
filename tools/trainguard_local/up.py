"""``trainguard local up`` and ``trainguard local advance``: a local control plane that stays up.

``local up`` starts the AWS emulator (moto server) on ``localhost:PORT``, deploys the real stack
into it (as ``trainguard demo`` does), prints the ``export`` lines that point the AWS CLI, the
SageMaker Python SDK and the operator commands at it, and serves until Ctrl-C (or SIGTERM).

The simulated clock advances one minute each real minute (``--manual-clock``: only on demand),
and by N minutes at once with ``trainguard local advance --minutes N``. Each simulated minute
plays what the demo plays: the fleet's jobs (with ``--with-demo``), stops settling, the events
routed to the deployed functions, the evaluator's schedule ticks, the GPU alarms evaluated.
Training jobs you create yourself stay ``InProgress`` until stopped (nobody trains them).

``--with-demo`` loads the demo's fleet (``trainguard demo``'s jobs on the committed curves) and
plays its first half at once, so ``trainguard status``, ``explain``, ``report`` and ``pause``
have running jobs, stops and alerts to show; the rest plays as the clock advances.

How ``advance`` reaches the running ``up``: a small HTTP endpoint on loopback, on the port after
the emulator's (``--control-port``). A request waits for the minutes to be played and answers
what happened (a file or a queue the server polls could not answer, nor say that nothing
listens). Every minute is played on ``up``'s main thread, one at a time, so a request and the
wall clock never play two minutes at once.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainguard_tools.local_group import EMULATOR_MODULES, missing_message

if TYPE_CHECKING:
    from .demo.run import FleetPlayer

DEFAULT_PORT = 5000
WALL_MINUTE_S = 60.0
ADVANCE_TIMEOUT_S = 900.0  # an advance of a few hundred minutes plays about a second each


def register(local_sub: Any) -> None:
    """``local up`` and ``local advance`` under the ``local`` command."""
    up = local_sub.add_parser(
        "up",
        help="start the emulator with the stack deployed and keep it up (Ctrl-C stops it)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    up.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"emulator port (default {DEFAULT_PORT})"
    )
    up.add_argument(
        "--control-port",
        type=int,
        default=None,
        help="loopback port `local advance` talks to (default: the emulator's port + 1)",
    )
    up.add_argument("--with-demo", action="store_true", help="load the demo's fleet of jobs")
    up.add_argument("--quick", action="store_true", help="with --with-demo: the demo's short fleet")
    up.add_argument(
        "--manual-clock",
        action="store_true",
        help="the simulated clock moves only on `local advance` (default: also one minute "
        "each real minute)",
    )
    up.add_argument(
        "--out", default="out/local", help="folder for the deploy's cdk.out (default out/local)"
    )
    up.set_defaults(func=_run_up)

    advance = local_sub.add_parser(
        "advance",
        help="move a running `local up`'s simulated clock forward, ticking as it goes",
        description="Play N simulated minutes on the control plane `trainguard local up` "
        "serves: the jobs' metrics, the events, the evaluator's ticks and the alarms of each "
        "minute. Prints what changed.",
    )
    advance.add_argument("--minutes", type=int, required=True, help="minutes to play (>= 1)")
    advance.add_argument(
        "--endpoint",
        default=None,
        help="the emulator of `local up` (default $AWS_ENDPOINT_URL, else "
        f"http://localhost:{DEFAULT_PORT}); its control port is the next one",
    )
    advance.add_argument("--control-url", default=None, help="the control endpoint itself")
    advance.add_argument("--json", action="store_true", help="print the answer as JSON")
    advance.set_defaults(func=_run_advance)


# --- the control endpoint -------------------------------------------------------------------


def control_url_for(endpoint: str) -> str:
    """The control endpoint of the ``local up`` serving ``endpoint``: the next port, loopback."""
    parsed = urllib.parse.urlsplit(endpoint)
    port = parsed.port or 80
    return f"http://127.0.0.1:{port + 1}"


@dataclass
class _Request:
    minutes: int
    answer: queue.Queue[dict[str, Any]] = field(default_factory=queue.Queue)


def _control_server(port: int, requests: queue.Queue[_Request]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            if urllib.parse.urlsplit(self.path).path != "/advance":
                self._reply(404, {"error": f"no such path {self.path}"})
                return
            try:
                minutes = int(query.get("minutes", ["1"])[0])
            except ValueError:
                minutes = 0
            if minutes < 1:
                self._reply(400, {"error": "minutes must be an integer >= 1"})
                return
            request = _Request(minutes)
            requests.put(request)
            try:
                self._reply(200, request.answer.get(timeout=ADVANCE_TIMEOUT_S))
            except queue.Empty:
                self._reply(504, {"error": "the minutes were not played in time"})

        def _reply(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body, default=str).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return  # quiet: `up` prints what each advance did

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="trainguard-control", daemon=True).start()
    return server


# --- local up ---------------------------------------------------------------------------------


def export_lines(endpoint_url: str, region: str, credentials: dict[str, str]) -> list[str]:
    """The shell lines that point boto3, the AWS CLI and the SDK at the emulator."""
    return [
        f"export AWS_ENDPOINT_URL={endpoint_url} AWS_DEFAULT_REGION={region} AWS_REGION={region}",
        "export "
        + " ".join(f"{k}={credentials[k]}" for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")),
    ]


class _Minutes:
    """Plays minutes on the player and says what each batch did."""

    def __init__(self, player: FleetPlayer) -> None:
        self.player = player
        self.next_minute = 0

    def play(self, minutes: int) -> dict[str, Any]:
        from trainguard.constants import EVALUATOR_FUNCTION_NAME

        plane = self.player.plane
        invocations = len(plane.router.invocations)
        for _ in range(minutes):
            self.player.play(self.next_minute)
            self.next_minute += 1
        new = plane.router.invocations[invocations:]
        statuses: dict[str, int] = {}
        for job in plane.shim.names():
            status = plane.shim.status(job)[0]
            statuses[status] = statuses.get(status, 0) + 1
        return {
            "minutes": minutes,
            "now": plane.clock.now().isoformat(),
            "ticks": sum(1 for inv in new if inv.function == EVALUATOR_FUNCTION_NAME),
            "invocations": len(new),
            "failed": [f"{inv.function}: {inv.error}" for inv in new if not inv.ok],
            "jobs": dict(sorted(statuses.items())),
            "emails": [e.subject for e in plane.mailbox.new_emails()],
        }


def format_advance(answer: dict[str, Any]) -> str:
    jobs = ", ".join(f"{n} {s}" for s, n in answer["jobs"].items()) or "no jobs"
    lines = [
        f"played {answer['minutes']} min: now {answer['now'][:16].replace('T', ' ')} UTC "
        f"(simulated); {answer['ticks']} evaluator tick(s), {answer['invocations']} "
        f"invocation(s); jobs: {jobs}"
    ]
    lines += [f"  email: {subject}" for subject in answer["emails"]]
    lines += [f"  FAILED invocation: {failure}" for failure in answer["failed"]]
    return "\n".join(lines)


def _run_up(args: argparse.Namespace) -> int:
    missing = missing_message("local up", EMULATOR_MODULES)
    if missing:
        print(missing, file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return _serve(args, stop)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _serve(args: argparse.Namespace, stop: threading.Event) -> int:
    from trainguard.config import Policy
    from trainguard.constants import ENV_POLICY, EVALUATOR_FUNCTION_NAME
    from trainguard_tools.curvefile import load_curves

    from .demo.command import DEFAULT_CURVES, demo_context
    from .demo.fleet import FULL, QUICK, plan_fleet
    from .demo.run import FleetPlayer, start_plane
    from .emulator import DUMMY_CREDENTIALS, REGION
    from .emulator_deploy import DeployError

    say = _printer()
    scenario = QUICK if args.quick else FULL
    fleet = plan_fleet(load_curves(DEFAULT_CURVES)[0], scenario) if args.with_demo else []
    head_start = max(j.end_minute for j in fleet) // 2 if fleet else 0
    context = demo_context(dict(scenario.context) if fleet else {}, 1)
    control_port = args.control_port or args.port + 1
    requests: queue.Queue[_Request] = queue.Queue()
    try:  # claim the control port first: a second `local up` fails here, in a second
        control = _control_server(control_port, requests)
    except OSError as exc:
        say(f"trainguard local up: cannot listen on 127.0.0.1:{control_port}: {exc.strerror}")
        return 2
    try:
        emulator, plane = start_plane(
            context,
            cdk_out=Path(args.out) / "cdk.out",
            span=timedelta(minutes=head_start),
            port=args.port,
        )
    except (DeployError, OSError) as exc:
        control.shutdown()
        say(f"trainguard local up: cannot start: {exc}")
        return 2
    try:
        env = plane.deployed.functions[EVALUATOR_FUNCTION_NAME].environment
        catalog = Policy.from_json(env[ENV_POLICY]).catalog()
        player = FleetPlayer(
            plane,
            fleet,
            lambda itype: spec.gpus if (spec := catalog.get(itype)) else 1,
            progress_every=0,  # `up` says what each batch of minutes did
        )
        minutes = _Minutes(player)
        if head_start and not stop.is_set():
            say(f"[local] playing the demo fleet's first {head_start} minutes ({len(fleet)} jobs)")
            say(format_advance(minutes.play(head_start)))
        say("")
        say(f"trainguard's control plane is up on {plane.endpoint_url}. In another terminal:")
        say("")
        for line in export_lines(plane.endpoint_url, REGION, dict(DUMMY_CREDENTIALS)):
            say(f"  {line}")
        say("")
        say("  trainguard status                    # then explain, report, pause ...")
        say("  aws sagemaker list-training-jobs")
        say(
            f"  trainguard local advance --minutes 10   # control endpoint 127.0.0.1:{control_port}"
        )
        clock = "only on `local advance`" if args.manual_clock else "one minute a real minute"
        say(f"\nThe simulated clock moves {clock}. Ctrl-C stops it.")
        _loop(minutes, requests, stop, wall_clock=not args.manual_clock, say=say)
    finally:
        control.shutdown()
        control.server_close()
        plane.shim.uninstall()
        emulator.stop()
    say("trainguard local up: stopped")
    return 0


def _loop(
    minutes: _Minutes,
    requests: queue.Queue[_Request],
    stop: threading.Event,
    *,
    wall_clock: bool,
    say: Callable[[str], None],
) -> None:
    """Serve until ``stop``: advance requests, the wall clock's minutes, and in between the
    events of what clients did (a job created now reaches the lifecycle function in a second)."""
    next_wall = time.monotonic() + WALL_MINUTE_S
    while not stop.is_set():
        try:
            request = requests.get(timeout=0.5)
        except queue.Empty:
            if wall_clock and time.monotonic() >= next_wall:
                next_wall += WALL_MINUTE_S
                say(format_advance(minutes.play(1)))
            else:
                minutes.player.plane.router.pump()
            continue
        try:
            answer = minutes.play(request.minutes)
        except Exception as exc:  # the caller gets it; the plane stays up
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        else:
            say(format_advance(answer))
        request.answer.put(answer)


def _printer() -> Callable[[str], None]:
    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    return say


# --- local advance ----------------------------------------------------------------------------


def _run_advance(args: argparse.Namespace) -> int:
    endpoint = (
        args.endpoint or os.environ.get("AWS_ENDPOINT_URL") or f"http://localhost:{DEFAULT_PORT}"
    )
    control = (args.control_url or control_url_for(endpoint)).rstrip("/")
    if args.minutes < 1:
        print("trainguard local advance: --minutes must be >= 1", file=sys.stderr)
        return 2
    request = urllib.request.Request(f"{control}/advance?minutes={args.minutes}", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=ADVANCE_TIMEOUT_S) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        print(f"trainguard local advance: {exc.read().decode(errors='replace')}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"trainguard local advance: no `trainguard local up` answers on {control} "
            f"({getattr(exc, 'reason', exc)}); start one, or pass --endpoint",
            file=sys.stderr,
        )
        return 2
    if "error" in answer:
        print(f"trainguard local advance: {answer['error']}", file=sys.stderr)
        return 1
    print(json.dumps(answer, indent=2) if args.json else format_advance(answer))
    return 1 if answer["failed"] else 0
