"""``make bench``: run every part, write ``bench/results.json`` and ``bench/RESULTS.md``.

    python -m bench.run            # the full run (what make bench does)
    python -m bench.run --quick    # a short smoke run, written to bench/quick/ (git-ignored)
    python -m bench.run --only decision cold_start    # re-measure these parts only

With ``--only`` the named parts replace their entries in the output folder's ``results.json``
(the other parts keep their figures; ``meta.partial_runs`` says which parts were measured
when), and ``RESULTS.md`` is rendered again from the whole.

Each part is a module with ``run(quick, log) -> dict``. A part whose code it measures does not
exist yet returns ``{"status": "pending", "reason": ...}``; a part that raises is recorded as
``{"status": "error", ...}`` and makes the run exit 1 after everything else has been written.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .machine import describe
from .sections import render

HERE = Path(__file__).resolve().parent
# (results key, module): the order of the run and of RESULTS.md (the parts 1-4, then
# issue 12's frontier of stopping policies)
PARTS: tuple[tuple[str, str], ...] = (
    ("decision", "bench.decision_cost"),
    ("api", "bench.api_calls"),
    ("savings", "bench.savings"),
    ("cold_start", "bench.cold_start"),
    ("frontier", "bench.frontier"),
    ("completion", "bench.completion"),
    ("health_cost", "bench.health_cost"),
    ("scale", "bench.scale"),
    ("scale_reconcile", "bench.scale_reconcile"),
)


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _json_safe(value: Any) -> Any:
    """JSON has no NaN/inf: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def run_parts(names: Sequence[str], quick: bool) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for key, module in PARTS:
        if key not in names:
            continue
        _log(f"part {key} ({module})")
        start = time.perf_counter()
        try:
            results[key] = importlib.import_module(module).run(quick=quick, log=_log)
        except Exception as exc:  # record and go on: the other parts still count
            traceback.print_exc()
            results[key] = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
        wall = round(time.perf_counter() - start, 2)
        if isinstance(results[key], dict):
            results[key]["wall_s"] = wall
        else:  # a part whose figures are a list (its rows): its time goes with the others
            results.setdefault("part_wall_s", {})[key] = wall
        _log(f"part {key} done in {wall} s")
    return results


def merge(
    previous: dict[str, Any], measured: dict[str, Any], meta: dict[str, Any]
) -> dict[str, Any]:
    """``previous`` results with ``measured``'s parts in place of theirs; the run that measured
    them is listed in ``meta.partial_runs`` (the rest of ``meta`` stays the full run's)."""
    merged = {**previous, **{k: v for k, v in measured.items() if k != "part_wall_s"}}
    walls = {**previous.get("part_wall_s", {}), **measured.get("part_wall_s", {})}
    if walls:
        merged["part_wall_s"] = walls
    keep = ("date_utc", "commit", "lambdas_uncommitted_changes", "python", "wall_s")
    parts = [k for k, _ in PARTS if k in measured]
    run = {"parts": parts, **{k: meta.get(k) for k in keep}}
    merged_meta = dict(previous.get("meta", {}))
    earlier = [
        r for r in merged_meta.get("partial_runs", []) if not set(r.get("parts", [])) <= set(parts)
    ]
    merged_meta["partial_runs"] = [*earlier, run]
    merged["meta"] = merged_meta
    return merged


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    parser.add_argument("--only", nargs="+", choices=[k for k, _ in PARTS], metavar="PART")
    parser.add_argument(
        "--out", type=Path, help="output folder (default bench/, quick: bench/quick/)"
    )
    args = parser.parse_args(argv)
    out: Path = args.out or (HERE / "quick" if args.quick else HERE)
    names = args.only or [k for k, _ in PARTS]

    started = time.time()
    meta = describe(quick=args.quick)
    measured = run_parts(names, args.quick)
    meta["wall_s"] = round(time.time() - started, 1)
    previous = out / "results.json"
    if args.only and previous.is_file():
        results = merge(json.loads(previous.read_text()), measured, meta)
    else:
        results = {"meta": meta, **measured}

    out.mkdir(parents=True, exist_ok=True)
    safe = _json_safe(results)
    (out / "results.json").write_text(json.dumps(safe, indent=2, sort_keys=False) + "\n")
    (out / "RESULTS.md").write_text(render(safe))
    _log(f"wrote {out / 'results.json'} and {out / 'RESULTS.md'}")
    errors = [
        k for k in names if isinstance(results.get(k), dict) and results[k].get("status") == "error"
    ]
    if errors:
        _log(f"parts with errors: {', '.join(errors)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
