"""``bench/RESULTS.md`` is rendered from ``bench/results.json`` by each part's section
(``bench/sections/``), without running a bench: the committed page is what the committed
figures render to, every part's section stands in for a part that is pending or failed, and
the cold-start figure refuses an environment without bytecode."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/ is outside the wheel
from bench.cold_start import MissingBytecode, parse_importtime, require_bytecode
from bench.run import PARTS, merge
from bench.sections import render
from bench.sections.document import HEADLINE, SECTIONS
from bench.sections.text import fragments, prose

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
RESULTS = json.loads((ROOT / "bench" / "results.json").read_text())


def test_the_committed_results_render_the_committed_page() -> None:
    assert render(RESULTS) == (ROOT / "bench" / "RESULTS.md").read_text()


def test_every_part_of_the_run_has_its_section_in_the_run_s_order() -> None:
    assert [key for key, _ in SECTIONS] == [key for key, _ in PARTS]
    assert {key for key, _ in HEADLINE} <= {key for key, _ in PARTS}


@pytest.mark.parametrize("key", [key for key, _ in PARTS])
def test_a_part_that_failed_or_is_pending_says_so_in_its_section(key: str) -> None:
    for part, line in (
        ({"status": "error", "error": "boom"}, "**Error** in this run: `boom`."),
        ({"status": "pending", "reason": "not yet"}, "**Pending**: not yet."),
    ):
        page = render({**RESULTS, key: part})
        assert line in page


def test_a_page_renders_with_no_part_at_all() -> None:
    page = render({"meta": {}})
    assert page.startswith("# trainguard benchmarks\n")
    for _, section in SECTIONS:
        assert section.__module__.startswith("bench.sections.")


def test_templates_join_wrapped_prose_and_keep_lists_tables_and_code() -> None:
    every = {name for key, _ in SECTIONS for name in fragments(key)}
    assert every  # each section has its prose in a template
    machine = "\n".join(prose("document", "machine", **dict.fromkeys(MACHINE_KEYS, "x")))
    assert "```\nmake bench    # uv sync --group bench, then python -m bench.run\n" in machine
    seeds = "Seeds are fixed (`bench/fleet.py`), so the fleets and the decisions are identical"
    assert f"\n{seeds} on every run;" in machine  # one line, wrapped in the template
    for key, _ in SECTIONS:
        for name, template in fragments(key).items():
            continued = template.template.split("\n")[1:]  # wrapped lines join unindented
            assert not any(line.startswith(" ") for line in continued), (key, name)


MACHINE_KEYS = ("cpu", "cores", "memory", "platform", "implementation", "python", "packages")


def test_a_partial_run_replaces_its_parts_and_says_when() -> None:
    previous: dict[str, Any] = {
        "meta": {"date_utc": "then", "commit": "a"},
        "decision": {"x": 1},
        "cold_start": {"old": True},
        "part_wall_s": {"scale": 9.0},
    }
    meta = {"date_utc": "now", "commit": "b", "python": "3.11", "wall_s": 2.0}
    merged = merge(previous, {"cold_start": {"new": True}}, meta)
    assert merged["decision"] == {"x": 1}
    assert merged["cold_start"] == {"new": True}
    assert merged["part_wall_s"] == {"scale": 9.0}
    assert merged["meta"]["date_utc"] == "then"
    (run,) = merged["meta"]["partial_runs"]
    assert run["parts"] == ["cold_start"] and run["date_utc"] == "now"
    # measured again: the newer run replaces the older
    again = merge(merged, {"cold_start": {"newer": True}}, {**meta, "date_utc": "later"})
    assert [r["date_utc"] for r in again["meta"]["partial_runs"]] == ["later"]
    assert "Re-measured since with `python -m bench.run --only cold_start` on later" in render(
        again
    )


def test_the_baseline_without_bytecode_fails_naming_the_fix(tmp_path: Path) -> None:
    package = tmp_path / "somepkg"
    package.mkdir()
    (package / "__init__.py").write_text("X = 1\n")
    (package / "mod.py").write_text("Y = 2\n")
    with pytest.raises(MissingBytecode, match=r"somepkg: 2 of 2 modules.*-m compileall -q"):
        require_bytecode(sys.executable, ["somepkg"], path=tmp_path)
    with pytest.raises(MissingBytecode, match="absentpkg is not installed"):
        require_bytecode(sys.executable, ["absentpkg"], path=tmp_path)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(tmp_path)], check=True)
    coverage = require_bytecode(sys.executable, ["somepkg"], path=tmp_path)
    assert coverage == {"somepkg": {"modules": 2, "missing": 0, "examples": []}}


IMPORTTIME = """\
import time: self [us] | cumulative | imported package
import time:       100 |        100 |   botocore
import time:       200 |        300 | boto3
import time:        50 |         50 |     aws_lambda_powertools.metrics
import time:        10 |         60 |   trainguard.handlers.runtime
import time:        20 |         20 |   boto3
import time:        30 |        110 | trainguard.handlers
"""


def test_importtime_names_what_a_handler_imports_beyond_boto3() -> None:
    profile = parse_importtime(IMPORTTIME, baseline={"boto3", "botocore"})
    assert profile.total_ms == pytest.approx(0.11)
    assert profile.own_ms == pytest.approx(0.04)
    assert profile.beyond_boto3 == [
        ("aws_lambda_powertools.metrics", "trainguard.handlers.runtime", 0.05)
    ]
    assert [name for name, _ in profile.heaviest] == ["aws_lambda_powertools.metrics", "boto3"]
