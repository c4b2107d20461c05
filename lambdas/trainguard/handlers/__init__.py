"""Thin Lambda entry points: parse the event, call the logic, emit metrics, return.

Two things a cold start pays for are settled here, before any other module of ours is
imported (bench/RESULTS.md, "Cold start", has the figures):

- boto3 is imported first, at the shallowest import depth a handler has: imported from deep
  inside the package's imports, its import crossed one of CPython 3.13's 16 KiB frame-stack
  chunks thousands of times (each crossing maps and unmaps the chunk), system time that a bare
  ``import boto3`` does not spend;
- then the garbage collector's tracked objects are frozen (``gc.freeze``): boto3's, botocore's
  and the standard library's module-level objects live as long as the execution environment,
  and without it every later collection, of this import and of each invocation, walks them
  again. Reference counting still frees them; only cyclic garbage already there when frozen
  is never collected (a fixed amount, once).
"""

import gc

import boto3  # noqa: F401  (first: see above)

gc.freeze()

from .runtime import get_dependencies, reset_dependencies  # noqa: E402  (after the freeze)

__all__ = ["get_dependencies", "reset_dependencies"]
