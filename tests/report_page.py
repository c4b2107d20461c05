"""The demo report's checks in a real browser (headless Chromium, :mod:`headless_chromium`):
what :func:`report_problems` returns is every way the page is broken for a reader.

- an image that did not load (``naturalWidth`` 0), or whose size is not what its chart says;
- anything on the console: console.error/warning, an uncaught exception, a resource that
  failed to load;
- a chart mark (a stop, an alert) outside its axes: each chart's ``<img data-chart>`` holds
  the axes' limits and pixel box and each mark's data and pixel position;
- a stop of the Stops table missing from its group's chart, a stop without its "why";
- the order: the summary first (what trainguard decided), the checklist last.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from headless_chromium import Rendered, find_or_install_chromium, render

# evaluated in the page once it has loaded: what the browser made of it
READ_PAGE = """
(async () => {
  const images = [...document.images];
  await Promise.all(images.map(i => i.decode().catch(() => null)));
  const table = (title) => {
    const h = [...document.querySelectorAll('h2')].find(e => e.textContent.startsWith(title));
    let t = h && h.nextElementSibling;
    while (t && t.tagName !== 'TABLE' && t.tagName !== 'H2') t = t.nextElementSibling;
    if (!t || t.tagName !== 'TABLE') return null;
    const rows = [...t.rows].map(r => [...r.cells].map(c => c.textContent.trim()));
    return {header: rows[0], rows: rows.slice(1)};
  };
  return {
    headings: [...document.querySelectorAll('h1, h2')].map(h => h.tagName + ' ' + h.textContent),
    images: images.map(i => ({alt: i.alt, complete: i.complete, width: i.naturalWidth,
                              height: i.naturalHeight, chart: i.dataset.chart || null})),
    stops: table('Stops'),
  };
})()
"""


def inspect_page(page: Path, screenshot: Path | None = None) -> tuple[dict[str, Any], Rendered]:
    """Open ``page`` in headless Chromium; what it read (:data:`READ_PAGE`) and the render."""
    rendered = render(find_or_install_chromium(), page.resolve().as_uri(), READ_PAGE)
    if screenshot is not None:
        screenshot.write_bytes(rendered.screenshot)
    return rendered.value, rendered


def _inside(mark: dict[str, Any], chart: dict[str, Any]) -> bool:
    (x0, x1), (y0, y1) = sorted(chart["xlim"]), sorted(chart["ylim"])
    left, top, right, bottom = chart["axes_px"]
    px, py = mark["px"]
    eps = 1e-9 * max(abs(y0), abs(y1), 1.0)
    return (
        x0 - eps <= mark["x"] <= x1 + eps
        and y0 - eps <= mark["y"] <= y1 + eps
        and left - 0.5 <= px <= right + 0.5
        and top - 0.5 <= py <= bottom + 0.5
    )


def report_problems(page: dict[str, Any], console: list[str]) -> list[str]:
    """Every problem a reader would meet (empty: the page is fine)."""
    problems = [f"console: {line}" for line in console]
    for img in page["images"]:
        if not img["complete"] or img["width"] == 0:
            problems.append(f"image {img['alt']!r} did not load")
            continue
        if img["chart"] is None:
            problems.append(f"image {img['alt']!r} has no data-chart geometry")
            continue
        chart = json.loads(img["chart"])
        if chart["image"] != [img["width"], img["height"]]:
            problems.append(f"image {img['alt']!r}: {chart['image']} drawn, shown {img['width']}")
        for mark in chart["marks"]:
            if not _inside(mark, chart):
                problems.append(
                    f"chart {img['alt']!r}: {mark['kind']} mark outside its axes {mark}"
                )
    problems += _stops_problems(page)
    headings = [h for h in page["headings"] if h.startswith("H2 ")]
    if not headings or headings[0] != "H2 Summary":
        problems.append(f"the page does not open with its summary: {headings[:2]}")
    if not headings or headings[-1] != "H2 Checks":
        problems.append(f"the checklist is not last: {headings[-2:]}")
    return problems


def _stops_problems(page: dict[str, Any]) -> list[str]:
    """Each stop of the Stops table is a mark of its group's chart; each has its why."""
    stops = page["stops"]
    if stops is None or "why" not in stops["header"]:
        return [f"no Stops table with a why column: {stops and stops['header']}"]
    col = {name: i for i, name in enumerate(stops["header"])}
    rows = stops["rows"]
    problems = [f"stop of {r[col['job']]} without a why" for r in rows if not r[col["why"]]]
    charts = [json.loads(i["chart"]) for i in page["images"] if i["chart"]]
    marked = {(c["group"], m["job"]) for c in charts if c["chart"] == "curves" for m in c["marks"]}
    for r in stops["rows"]:
        if (r[col["group"]], r[col["job"]]) not in marked:
            problems.append(f"stop of {r[col['job']]} ({r[col['group']]}) not marked on a chart")
    return problems
