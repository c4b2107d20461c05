"""What every section shares: number formats, Markdown tables, a part's status line, and the
prose templates (``templates/<section>.md``).

A template file holds named fragments, each after a line ``<!-- name -->``. Prose is wrapped
in the file as it reads best; a fragment's lines join into one line per paragraph when it is
loaded (a blank line ends a paragraph; a line starting a list item, a table row, a heading or
a code fence starts a new line; code blocks stay as written). ``$name`` / ``${name}`` are the
values the section's renderer passes (``string.Template``; ``$$`` is a dollar sign).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from string import Template
from typing import Any

TEMPLATES = Path(__file__).resolve().parent / "templates"
_MARKER = re.compile(r"^<!-- ([a-z0-9_]+) -->$")
_BLOCK_STARTS = ("- ", "|", "#", "```")


def f(x: Any, digits: int = 1, unit: str = "") -> str:
    if x is None:
        return "n/a"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}{unit}"
    if isinstance(x, float):
        if abs(x) >= 1000:
            return f"{x:,.0f}{unit}"
        return f"{x:.{digits}f}{unit}"
    return f"{x}{unit}"


def pct(x: Any) -> str:
    return "n/a" if x is None else f"{100 * x:.1f} %"


def usd(x: Any) -> str:
    return "n/a" if x is None else f"${x:,.2f}"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def status(part: Any) -> str | None:
    """The line that stands for a part that is pending or failed in this run."""
    if not isinstance(part, dict):
        return None
    state = part.get("status")
    if state == "pending":
        return f"**Pending**: {part.get('reason', '')}."
    if state == "error":
        return f"**Error** in this run: `{part.get('error', '')}`."
    return None


def _continues(line: str, previous: str, fenced: bool) -> bool:
    """Whether ``line`` goes on the paragraph (or list item) of ``previous``."""
    if fenced or not line or not previous or previous.startswith("```"):
        return False
    return not line.startswith(_BLOCK_STARTS)


def _unwrap(lines: list[str]) -> str:
    out: list[str] = []
    fenced = False
    for line in lines:
        if line.startswith("```"):
            fenced = not fenced
            out.append(line)
        elif _continues(line, out[-1] if out else "", fenced):
            out[-1] = f"{out[-1]} {line.lstrip()}"
        else:
            out.append(line)
    while out and not out[0]:
        out.pop(0)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)


@cache
def fragments(section: str) -> dict[str, Template]:
    """The named fragments of ``templates/<section>.md``."""
    named: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in (TEMPLATES / f"{section}.md").read_text().splitlines():
        m = _MARKER.match(line)
        if m:
            current = named.setdefault(m.group(1), [])
        elif current is not None:
            current.append(line.rstrip())
    return {name: Template(_unwrap(lines)) for name, lines in named.items()}


def prose(section: str, name: str, **values: Any) -> list[str]:
    """The fragment ``name`` of ``section``'s template with ``values``, as lines."""
    return fragments(section)[name].substitute(values).split("\n")


def sentence(section: str, name: str, **values: Any) -> str:
    """A one-line fragment (a cell, a clause) with ``values``."""
    return fragments(section)[name].substitute(values)
