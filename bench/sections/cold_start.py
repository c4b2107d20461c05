"""Part 4, cold start (``bench/cold_start.py``): its result and its section."""

from __future__ import annotations

from typing import Any, TypedDict

from .text import f, prose, sentence, status, table

GOAL_RATIO = 1.3  # each handler's import at most 1.3x a bare ``import boto3``


class Interpreter(TypedDict):
    path: str
    version: str
    runtime: bool  # the functions' runtime version (python3.13)


class HandlerImport(TypedDict, total=False):
    """One module under ``python -X importtime`` (median of the runs)."""

    module: str
    median_ms: float
    min_ms: float
    max_ms: float
    runs: int
    own_median_ms: float
    heaviest_own_ms: list[list[Any]]  # [module, ms]
    heaviest_dependencies_ms: list[list[Any]]  # [module, ms]
    beyond_boto3_ms: list[list[Any]]  # [module, imported by, ms]
    pending: str
    error: str


class ColdStartResult(TypedDict, total=False):
    interpreter: Interpreter
    environment: dict[str, Any]  # what, packages (name -> version), bytecode coverage
    import_ratio_to_boto3: dict[str, float]  # handler -> ratio (the asset with its bytecode)
    added_ms: dict[str, float]  # handler -> ms over a bare ``import boto3``
    side_by_side_median_ms: dict[str, float]  # handler (and "boto3") -> ms
    side_by_side_runs: int
    import_ratio_to_boto3_sources_only: dict[str, float]
    added_ms_sources_only: dict[str, float]
    sources_only_median_ms: dict[str, float]
    import_ms: dict[str, float | None]
    handlers: dict[str, HandlerImport]
    baseline_modules: dict[str, HandlerImport]
    pending_handlers: list[str]
    asset: dict[str, int]  # files, bytes, zipped_bytes
    python: str
    load_average: list[float]  # the 1-minute load average as the part started and ended
    # instructions_ratio_to_boto3, added_instructions_millions, boto3_instructions_millions
    # (callgrind), or unavailable: why not counted
    instructions: dict[str, Any]
    status: str


def added(c: ColdStartResult, sources_only: bool = False) -> dict[str, float]:
    """Handler -> ms over ``import boto3`` (from the medians for a run that did not record it)."""
    if sources_only:
        recorded, medians = c.get("added_ms_sources_only"), c.get("sources_only_median_ms")
    else:
        recorded, medians = c.get("added_ms"), c.get("side_by_side_median_ms")
    if recorded:
        return recorded
    if not medians or "boto3" not in medians:
        return {}
    return {n: ms - medians["boto3"] for n, ms in medians.items() if n != "boto3"}


def _interpreter(c: ColdStartResult) -> str:
    i = c.get("interpreter")
    if i is None:
        return f"Python {c.get('python')}"
    name = "interpreter_runtime" if i["runtime"] else "interpreter_other"
    return sentence("cold_start", name, version=i["version"], path=i["path"])


def _ms(x: float | None) -> str:
    return "n/a" if x is None else f"+{x:.0f}"


def headline(c: ColdStartResult) -> list[list[str]]:
    ratios = c.get("import_ratio_to_boto3") or {}
    more = added(c)
    i = c.get("interpreter")
    python = f"Python {i['version'] if i else c.get('python')}"
    rows = [
        [
            f"cold start ({python}): {name} handler import / bare `import boto3` (ms added)",
            f"{ratio:.2f}x ({_ms(more.get(name))} ms)",
        ]
        for name, ratio in ratios.items()
    ]
    asset = c.get("asset") or {}
    if asset:
        rows.append(
            [
                "Lambda asset",
                f"{f(asset.get('files'))} files, {f(asset.get('bytes'))} B, "
                f"{f(asset.get('zipped_bytes'))} B zipped",
            ]
        )
    return rows


def _pairs(pairs: list[list[Any]]) -> str:
    return ", ".join(" ".join(str(x) for x in p) for p in pairs)


def _beyond(h: HandlerImport) -> str:
    return ", ".join(
        f"{n} ({by.removeprefix('trainguard.')}) {ms}" for n, by, ms in h.get("beyond_boto3_ms", [])
    )


def _module_row(label: str, h: HandlerImport) -> list[str]:
    module = f"`{h.get('module')}`"
    if "pending" in h:
        return [label, module, "pending", "", "", "", h["pending"]]
    if "error" in h:
        return [label, module, "error", "", "", "", h["error"]]
    own = _pairs([[n.removeprefix("trainguard."), ms] for n, ms in h.get("heaviest_own_ms", [])])
    return [
        label,
        module,
        f(h["median_ms"]),
        f"{f(h['min_ms'])}–{f(h['max_ms'])}",
        f"{f(h.get('own_median_ms'))}" + (f" ({own})" if own else ""),
        _pairs(h.get("heaviest_dependencies_ms", [])),
        _beyond(h),
    ]


def _verdict(c: ColdStartResult, ratios: dict[str, float]) -> list[str]:
    more = added(c)
    listed = "; ".join(f"{n} {r:.2f}x ({_ms(more.get(n))} ms)" for n, r in ratios.items())
    if all(r <= GOAL_RATIO for r in ratios.values()):
        return prose("cold_start", "goal_met", ratios=listed)
    return prose(
        "cold_start",
        "verdict",
        ratios=listed,
        evaluator_ms=f"{more.get('evaluator', float('nan')):.0f}",
        max_ms=f"{max(more.values()):.0f}" if more else "n/a",
    )


def _how(c: ColdStartResult) -> list[str]:
    rounds = f(c.get("side_by_side_runs"))
    environment = c.get("environment") or {}
    packages = environment.get("packages") or {}
    if "interpreter" not in c or not packages:
        return prose("cold_start", "how_unrecorded", interpreter=_interpreter(c), rounds=rounds)
    where = sentence(
        "cold_start", "environment", packages=", ".join(f"{n} {v}" for n, v in packages.items())
    )
    return prose(
        "cold_start",
        "how",
        interpreter=_interpreter(c),
        environment=where,
        packages=", ".join(environment.get("bytecode") or {}),
        rounds=rounds,
    )


def render(c: ColdStartResult) -> list[str]:
    out = ["## 4. Cold start", ""]
    line = status(c)
    if line:
        return [*out, line, ""]
    ratios = c.get("import_ratio_to_boto3") or {}
    if ratios:
        shipped = c.get("side_by_side_median_ms") or {}
        sources = c.get("sources_only_median_ms") or {}
        source_ratios = c.get("import_ratio_to_boto3_sources_only") or {}
        more, more_sources = added(c), added(c, sources_only=True)
        counted = c.get("instructions") or {}
        by_count = counted.get("instructions_ratio_to_boto3") or {}
        millions = counted.get("added_instructions_millions") or {}
        out += _how(c)
        out += [""]
        out += table(
            RATIO_HEADER,
            [
                [
                    name,
                    f"{ratio:.2f}",
                    _ms(more.get(name)),
                    f"{f(shipped.get(name))} ({f(shipped.get('boto3'))})",
                    f"{source_ratios.get(name, float('nan')):.2f}",
                    f"{_ms(more_sources.get(name))} ({f(sources.get(name))})",
                    _counted(by_count.get(name), millions.get(name), counted),
                ]
                for name, ratio in ratios.items()
            ],
        )
        out += ["", *_verdict(c, ratios), ""]
    out += [*prose("cold_start", "per_module"), ""]
    rows = [_module_row(name, h) for name, h in (c.get("handlers") or {}).items()]
    rows += [
        _module_row("(baseline)", {"module": module, **h})
        for module, h in (c.get("baseline_modules") or {}).items()
    ]
    out += table(MODULE_HEADER, rows)
    asset = c.get("asset", {})
    out += [""]
    out += prose(
        "cold_start",
        "asset",
        files=f(asset.get("files")),
        bytes=f(asset.get("bytes")),
        zipped=f(asset.get("zipped_bytes")),
    )
    out += ["", *prose("cold_start", "how_often"), ""]
    load = c.get("load_average")
    out += prose(
        "cold_start",
        "limits",
        load="not recorded" if not load else " then ".join(f"{x:.1f}" for x in load),
    )
    return [*out, ""]


def _counted(ratio: float | None, millions: float | None, counted: dict[str, Any]) -> str:
    if ratio is None or millions is None:
        return str(counted.get("unavailable", "not counted"))
    return f"{ratio:.2f} (+{millions:.0f}M of {f(counted.get('boto3_instructions_millions'))}M)"


RATIO_HEADER = [
    "handler",
    f"import / bare `import boto3` (goal ≤ {GOAL_RATIO})",
    "ms added over `import boto3`",
    "ms (boto3 ms)",
    "sources only: ratio",
    "sources only: ms added (ms)",
    "CPU instructions / boto3's (callgrind; added, of boto3's)",
]
MODULE_HEADER = [
    "handler",
    "module",
    "import, ms (median)",
    "min–max, ms",
    "own, ms (heaviest)",
    "heaviest imports inside, ms",
    "imports beyond `import boto3` (made by), ms",
]
