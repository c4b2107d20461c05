"""Reading a stored record back (JSON, or a DynamoDB item with its Decimals).

A record comes off the wire untyped: :data:`Record` is how the code past the adapters sees
it (a mapping of names to values of unknown type), and these readers narrow a value to what
the reader expects, raising TypeError (or ValueError, from ``int``/``float``) for what it is
not, so a caller that skips an unreadable record catches (KeyError, TypeError, ValueError).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TypeVar

Record = Mapping[str, object]
"""A record as read back: a JSON object, or a DynamoDB item (numbers as Decimal)."""

T = TypeVar("T")


def number(x: object) -> float | None:
    """``x`` as a float (None stays None); TypeError for what is no number."""
    if x is None:
        return None
    return real(x)


def real(x: object) -> float:
    """``x`` as a float; TypeError for what is no number (None included)."""
    if isinstance(x, int | float | str | Decimal):
        return float(x)
    raise TypeError(f"expected a number, got {type(x).__name__}")


def whole(x: object) -> int:
    """``x`` as an int (``int()`` of a number or its text); TypeError for what is no number."""
    if isinstance(x, int | float | str | Decimal):
        return int(x)
    raise TypeError(f"expected a number, got {type(x).__name__}")


def entries(x: object) -> Iterable[object]:
    """``x`` as the iterable it is (a list, a tuple, a set); TypeError for what is none."""
    if isinstance(x, Iterable):
        return x
    raise TypeError(f"expected a list, got {type(x).__name__}")


def record(x: object) -> Record:
    """``x`` as a mapping of names (a nested record); TypeError for what is none."""
    if isinstance(x, Mapping):
        return x
    raise TypeError(f"expected a mapping, got {type(x).__name__}")


def exact(kind: type[T], x: object) -> T:
    """``x`` as it is stored, if it is a ``kind`` (not converted); TypeError if not."""
    if isinstance(x, kind):
        return x
    raise TypeError(f"expected {kind.__name__}, got {type(x).__name__}")


def as_number(x: object) -> float | None:
    """``x`` as it is stored (an int stays an int, None stays None: not converted), if it is
    a number; TypeError if not."""
    if x is None or isinstance(x, int | float):
        return x
    raise TypeError(f"expected a number, got {type(x).__name__}")
