"""The CLI and the test harness's dependency group: ``demo`` and ``local invoke`` are
registered without importing moto, and say how to install it when it is missing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from trainguard_tools.cli import main

pytestmark = pytest.mark.unit

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_building_the_cli_imports_neither_moto_nor_matplotlib() -> None:
    code = (
        "import sys\n"
        "from trainguard_tools.cli import build_parser\n"
        "build_parser()\n"
        "print(sorted(m for m in ('moto', 'matplotlib', 'flask') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("argv", "module", "message"),
    [
        (["demo"], "moto", "trainguard demo: needs moto[server], not installed here; it is"),
        (["demo"], "matplotlib", "trainguard demo: needs matplotlib, not installed here; it is"),
        (
            ["local", "invoke", "lifecycle", "--event", "x.json"],
            "flask",
            "trainguard local invoke: needs moto[server], not installed",
        ),
        (
            ["replay", "x.jsonl", "--plots", "out"],
            "matplotlib",
            "trainguard replay --plots: needs matplotlib, not installed",
        ),
    ],
)
def test_a_missing_local_group_is_one_clear_line(
    argv: list[str],
    module: str,
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # importlib.util.find_spec -> None
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(message)
    assert err.rstrip().endswith("in the local dependency group: uv sync --group local")


def test_both_missing_are_named_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for module in ("moto", "flask", "matplotlib"):
        monkeypatch.setitem(sys.modules, module, None)
    assert main(["demo"]) == 2
    assert capsys.readouterr().err.startswith(
        "trainguard demo: needs moto[server] and matplotlib, not installed here; they are"
    )


def test_demo_without_the_report_does_not_need_matplotlib(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import trainguard_local.demo.command as command

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setattr(command, "run_demo", lambda args: 0)
    assert main(["demo", "--no-report"]) == 0
