"""The operator's CLI: help in an operator's words, ``--version``, one ``--since`` syntax for
``report``, ``replay`` and ``calibrate``, and one line with the fix (exit 2) for a missing
AWS set-up, whatever the command."""

from __future__ import annotations

import pytest
from botocore.exceptions import EndpointConnectionError, NoCredentialsError

from trainguard_tools import cleanup
from trainguard_tools.cli import build_parser, main
from trainguard_tools.since import SinceError, parse_since, since_days

pytestmark = pytest.mark.unit

OPERATOR_COMMANDS = ("status", "explain", "report", "pause", "resume", "mode", "cleanup")


def test_help_is_in_an_operators_words(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0
    for developer_word in ("register(", "COMMANDS", "``", ":mod:"):
        assert developer_word not in out
    assert "AWS_ENDPOINT_URL" in out and "local up" in out


def test_every_command_has_a_purpose_and_every_operator_command_a_description() -> None:
    parser = build_parser()
    (action,) = [a for a in parser._actions if a.dest == "command"]
    purposes = {c.dest: c.help for c in action._choices_actions}
    assert all(purposes.values()) and set(purposes) == set(action.choices)
    for name in OPERATOR_COMMANDS:
        description = action.choices[name].description
        assert description and len(description) > 60, name


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.startswith("trainguard ")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("7d", 7 * 86400), ("12h", 12 * 3600), ("90m", 5400), ("7", 7 * 86400), ("1.5", 129600)],
)
def test_since_one_syntax(text: str, seconds: float) -> None:
    assert parse_since(text) == seconds
    assert since_days(text) == seconds / 86400


@pytest.mark.parametrize("text", ["week", "0", "0d", "-1", "7w", ""])
def test_since_rejects_with_the_accepted_forms(text: str) -> None:
    with pytest.raises(SinceError, match="a bare number of days"):
        parse_since(text)


@pytest.mark.parametrize("command", ["replay", "calibrate"])
@pytest.mark.parametrize(("since", "days"), [("7d", 7.0), ("12h", 0.5), ("7", 7.0)])
def test_replay_and_calibrate_read_since_as_report_does(
    command: str, since: str, days: float
) -> None:
    args = build_parser().parse_args(
        [command, "--from-cloudwatch", "--group", "g", "--since", since]
    )
    assert args.since == days


def test_cleanup_without_a_region_says_how_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    assert main(["cleanup"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "export AWS_DEFAULT_REGION=" in err
    assert err.startswith("trainguard cleanup: no AWS region")


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (NoCredentialsError(), "no AWS credentials found: configure them"),
        (
            EndpointConnectionError(endpoint_url="http://localhost:5000/"),
            "start `trainguard local up` there",
        ),
    ],
)
def test_any_command_turns_a_missing_set_up_into_one_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    error: Exception,
    words: str,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localhost:5000")

    def fails(*args: object, **kwargs: object) -> list[str]:
        raise error

    monkeypatch.setattr(cleanup, "cleanup_runtime_alarms", fails)
    assert main(["cleanup", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err and "Traceback" not in err


def test_other_errors_still_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    def fails(*args: object, **kwargs: object) -> list[str]:
        raise ZeroDivisionError

    monkeypatch.setattr(cleanup, "cleanup_runtime_alarms", fails)
    with pytest.raises(ZeroDivisionError):
        main(["cleanup"])


def test_no_command_description_shows_restructuredtext() -> None:
    import argparse

    def walk(parser: argparse.ArgumentParser) -> list[str]:
        out = []
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for child in action.choices.values():
                    out += [child.description or "", *walk(child)]
        return out

    descriptions = walk(build_parser())
    assert len(descriptions) > 12  # the commands and local's up, advance, invoke
    assert not [d for d in descriptions if "``" in d or ":mod:" in d or ":func:" in d]
