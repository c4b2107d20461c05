"""``python -m bench.sections [FOLDER]``: render ``FOLDER/RESULTS.md`` (default ``bench/``) from
its ``results.json`` again, without running a bench (after a merge, or a change of a section)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from . import render

folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]
(folder / "RESULTS.md").write_text(render(json.loads((folder / "results.json").read_text())))
print(f"wrote {folder / 'RESULTS.md'}")
