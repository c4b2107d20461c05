"""Thin Lambda entry points: parse the event, call the logic, emit metrics, return.

boto3 is imported first, here, at the shallowest import depth a handler has: imported from deep
inside the package's imports, its import crossed one of CPython 3.13's 16 KiB frame-stack chunks
thousands of times (each crossing maps and unmaps the chunk), system time that a bare ``import
boto3`` does not spend (bench/RESULTS.md, "Cold start", has the figures)."""

import boto3  # noqa: F401  (first: see above)

from .runtime import get_dependencies, reset_dependencies

__all__ = ["get_dependencies", "reset_dependencies"]
