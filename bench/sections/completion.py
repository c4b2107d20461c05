"""Part 6, a completion as the group grows (``bench/completion.py``): its result (a list of
rows) and its section."""

from __future__ import annotations

from typing import Any, TypedDict

from .text import f, prose, status, table


class CompletionRow(TypedDict, total=False):
    """One completion at a number of references."""

    references: int
    steps: int
    seconds: float
    peak_mib: float
    largest_item_kib: float
    window: int
    curve_points_stored: int


HEADER = [
    "references",
    "steps",
    "seconds",
    "peak MiB",
    "largest item KiB",
    "window",
    "stored points",
]


def render(rows: list[CompletionRow] | dict[str, Any] | None) -> list[str]:
    out = ["## 6. A completion as the group grows", ""]
    if not isinstance(rows, list):
        return [*out, status(rows or {}) or "\n".join(prose("completion", "not_measured")), ""]
    out += table(
        HEADER,
        [
            [
                f(r["references"]),
                f(r["steps"]),
                f"{r['seconds']:.2f}",
                f"{r['peak_mib']:.1f}",
                f"{r['largest_item_kib']:.1f}",
                f(r.get("window")),
                f(r.get("curve_points_stored")),
            ]
            for r in rows
        ],
    )
    return [*out, "", *prose("completion", "after"), ""]
