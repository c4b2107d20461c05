"""``trainguard local up``'s serving loop without the emulator: advance requests are played
on the loop's thread and answered, the wall clock plays a minute each (shortened) minute, a
stop ends it; the export lines and the control endpoint's address."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from trainguard_local import up

pytestmark = pytest.mark.unit


class FakeMinutes:
    def __init__(self) -> None:
        self.played: list[tuple[int, str]] = []
        self.pumps = 0
        outer = self

        class Router:
            def pump(self) -> None:
                outer.pumps += 1

        class Plane:
            router = Router()

        class Player:
            plane = Plane()

        self.player = Player()

    def play(self, minutes: int) -> dict[str, Any]:
        self.played.append((minutes, threading.current_thread().name))
        return {
            "minutes": minutes,
            "now": "2026-01-01T00:00:00+00:00",
            "ticks": minutes,
            "invocations": minutes,
            "failed": [],
            "jobs": {},
            "emails": [],
        }


def _serve(minutes: FakeMinutes, *, wall_clock: bool) -> tuple[Any, threading.Event, Any]:
    import queue

    requests: queue.Queue[up._Request] = queue.Queue()
    stop = threading.Event()
    said: list[str] = []
    loop = threading.Thread(
        target=up._loop,
        args=(minutes, requests, stop),
        kwargs={"wall_clock": wall_clock, "say": said.append},
        name="serving",
    )
    loop.start()
    return requests, stop, loop


def test_an_advance_is_played_on_the_loop_and_answered() -> None:
    minutes = FakeMinutes()
    requests, stop, loop = _serve(minutes, wall_clock=False)
    request = up._Request(5)
    requests.put(request)
    answer = request.answer.get(timeout=10)
    stop.set()
    loop.join(timeout=10)
    assert answer["minutes"] == 5 and minutes.played == [(5, "serving")]
    assert not loop.is_alive()


def test_the_wall_clock_plays_a_minute_each_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(up, "WALL_MINUTE_S", 0.2)
    minutes = FakeMinutes()
    _, stop, loop = _serve(minutes, wall_clock=True)
    time.sleep(1.5)
    stop.set()
    loop.join(timeout=10)
    assert len(minutes.played) >= 2 and all(m == 1 for m, _ in minutes.played)


def test_the_manual_clock_only_pumps_events() -> None:
    minutes = FakeMinutes()
    _, stop, loop = _serve(minutes, wall_clock=False)
    time.sleep(1.2)
    stop.set()
    loop.join(timeout=10)
    assert minutes.played == [] and minutes.pumps >= 1


def test_export_lines_and_the_control_address() -> None:
    credentials = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    lines = up.export_lines("http://localhost:5000", "us-east-1", credentials)
    assert lines[0].startswith("export AWS_ENDPOINT_URL=http://localhost:5000 ")
    assert "AWS_DEFAULT_REGION=us-east-1" in lines[0]
    assert lines[1] == "export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing"
    assert up.control_url_for("http://localhost:5000") == "http://127.0.0.1:5001"
