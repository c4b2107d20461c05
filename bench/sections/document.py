"""The page around the sections: the title and the run, the headline table (each part's own
rows), the machine and how to reproduce; then each part's section in the order of the run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import api, cold_start, completion, decision, frontier, health_cost, savings, scale
from .text import f, prose, table

# results key -> the part's section, in the order of the run (bench/run.py's PARTS)
SECTIONS: tuple[tuple[str, Callable[[Any], list[str]]], ...] = (
    ("decision", decision.render),
    ("api", api.render),
    ("savings", savings.render),
    ("cold_start", cold_start.render),
    ("frontier", frontier.render),
    ("completion", completion.render),
    ("health_cost", health_cost.render),
    ("scale", scale.render),
    ("scale_reconcile", scale.render_reconcile),
)
# results key -> the part's rows of the headline table, in the table's order
HEADLINE: tuple[tuple[str, Callable[[Any], list[list[str]]]], ...] = (
    ("decision", decision.headline),
    ("cold_start", cold_start.headline),
    ("api", api.headline),
    ("savings", savings.headline),
    ("frontier", frontier.headline),
)
# parts whose result is a list of rows (None when the part did not run); the others a dict
LIST_PARTS = {"completion", "scale", "scale_reconcile"}


def _part(r: dict[str, Any], key: str) -> Any:
    return r.get(key) if key in LIST_PARTS else r.get(key, {})


def _partial_runs(m: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for run in m.get("partial_runs", []):
        parts = run.get("parts", [])
        numbers = {key: i + 1 for i, (key, _) in enumerate(SECTIONS)}
        sections = " and ".join(
            f"section {numbers[p]} ({p.replace('_', ' ')})" for p in parts if p in numbers
        )
        out += prose(
            "document",
            "partial",
            parts=" ".join(parts),
            sections=sections,
            date=run.get("date_utc"),
            commit=run.get("commit"),
            wall=f(run.get("wall_s")),
        )
        out += [""]
        if run.get("lambdas_uncommitted_changes"):
            out += [*prose("document", "uncommitted"), ""]
    return out


def render(r: dict[str, Any]) -> str:
    m = r.get("meta", {})
    packages = ", ".join(f"{k} {v}" for k, v in (m.get("packages") or {}).items() if v)
    out = prose(
        "document",
        "top",
        quick=" --quick" if m.get("quick") else "",
        date=m.get("date_utc"),
        commit=m.get("commit"),
        wall=f(m.get("wall_s")),
    )
    out += [""]
    if m.get("lambdas_uncommitted_changes"):
        out += [*prose("document", "uncommitted"), ""]
    out += _partial_runs(m)
    rows = [row for key, rows_of in HEADLINE for row in rows_of(_part(r, key))]
    out += ["## Headline", "", *table(["figure", "value"], rows), ""]
    out += prose(
        "document",
        "machine",
        cpu=m.get("cpu"),
        cores=m.get("cores"),
        memory=m.get("memory_gib"),
        platform=m.get("platform"),
        implementation=m.get("implementation"),
        python=m.get("python"),
        packages=packages,
    )
    out += [""]
    for key, section in SECTIONS:
        out += section(_part(r, key))
    return "\n".join(out).rstrip() + "\n"
