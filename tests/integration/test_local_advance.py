"""``trainguard local advance`` with no ``local up`` listening: one line that says so, exit 2."""

from __future__ import annotations

import socket

import pytest

from trainguard_tools.cli import main

pytestmark = pytest.mark.integration


def test_advance_without_a_running_local_up_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as s:  # a port nothing listens on (nor on the next one, very likely)
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://localhost:{port - 1}")
    assert main(["local", "advance", "--minutes", "3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no `trainguard local up` answers on" in err
    assert f"127.0.0.1:{port}" in err


def test_advance_refuses_zero_minutes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["local", "advance", "--minutes", "0"]) == 2
    assert "--minutes must be >= 1" in capsys.readouterr().err
