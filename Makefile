# trainguard: every target installs what it needs (uv via pip if missing, the pinned CDK CLI via npm).
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help setup test lint typecheck unit demo bench synth deploy destroy cleanup record-curves format

help:
	@echo "make demo    - the whole control plane against an AWS emulator on loopback (no account)"
	@echo "make test    - lint, types, and every test (unit, integration, infra, e2e)"
	@echo "make bench   - benchmarks; writes bench/results.json and bench/RESULTS.md"
	@echo "make synth   - synthesize the CloudFormation template into cdk.out/"
	@echo "make deploy  - deploy to the AWS account of your current credentials"

.venv/.synced: pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 \
		|| python3 -m pip install --quiet --disable-pip-version-check uv \
		|| python3 -m pip install --quiet --disable-pip-version-check --user --break-system-packages uv
	$(UV) sync --frozen --quiet
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

setup: .venv/.synced node_modules/.installed

lint: .venv/.synced
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

typecheck: .venv/.synced
	$(UV) run --frozen mypy

unit: .venv/.synced
	$(UV) run --frozen pytest -q -m unit

test: setup lint typecheck
	$(UV) run --frozen pytest -q -n 2

format: .venv/.synced
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

demo: setup
	$(UV) run --frozen trainguard demo

bench: setup
	$(UV) sync --frozen --quiet --group bench
	$(UV) run --frozen --group bench python -m bench.run

record-curves: .venv/.synced
	$(UV) run --frozen python tools/record_curves.py --out data/curves.jsonl

synth: setup
	npx cdk synth --quiet

deploy: setup
	@$(UV) run --frozen python -m trainguard_tools.preflight
	npx cdk deploy --require-approval broadening

destroy: setup
	npx cdk destroy
	$(UV) run --frozen trainguard cleanup

cleanup: .venv/.synced
	$(UV) run --frozen trainguard cleanup
