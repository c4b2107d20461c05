"""CDK entry point (cdk.json: `uv run --frozen python infra/app.py`).

Environment-agnostic on purpose: no credential or account look-ups here; the CLI's
credentials choose the account and region at deploy time.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# `python infra/app.py` puts infra/ on the path, not the repo root: swap them so `infra` imports
# as a package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO_ROOT / "infra"]
sys.path.insert(0, str(REPO_ROOT))

import aws_cdk as cdk  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402

from infra.config import ConfigError, load_config  # noqa: E402
from infra.stack import STACK_NAME, TrainguardStack  # noqa: E402


def build_app(context: dict[str, object] | None = None, outdir: str | None = None) -> cdk.App:
    """The app with its one stack and cdk-nag's AwsSolutions checks (tests call this too)."""
    app = cdk.App(context=context, outdir=outdir)
    config = load_config(app.node.try_get_context)
    TrainguardStack(app, STACK_NAME, config=config)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return app


def main() -> int:
    try:
        app = build_app()
    except ConfigError as exc:
        print(f"trainguard: {exc}", file=sys.stderr)
        return 1
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
