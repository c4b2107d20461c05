"""Reading the numbers of a stored record back (JSON, or DynamoDB's Decimals)."""

from __future__ import annotations

from decimal import Decimal


def number(x: object) -> float | None:
    """``x`` as a float (None stays None); TypeError for what is no number."""
    if x is None:
        return None
    if isinstance(x, int | float | str | Decimal):
        return float(x)
    raise TypeError(f"expected a number, got {type(x).__name__}")
