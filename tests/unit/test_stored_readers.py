"""The readers of stored records (core/stored.py) and the decision read back from a claim:
what was stored reads as before, and a value of the wrong type is refused, named, instead of
passing through as something else."""

from __future__ import annotations

from decimal import Decimal

import pytest

from trainguard.core.decision import Decision
from trainguard.core.stored import as_number, entries, exact, number, real, record, whole

pytestmark = pytest.mark.unit


def test_numbers_read_as_the_float_and_int_calls_did() -> None:
    assert real(Decimal("2.5")) == 2.5 and real("3") == 3.0 and real(4) == 4.0
    assert whole(Decimal("7")) == 7 and whole("8") == 8 and whole(9.9) == 9
    assert number(None) is None and number(Decimal("1.5")) == 1.5
    assert as_number(3) == 3 and isinstance(as_number(3), int)  # as stored: not converted
    assert as_number(None) is None


@pytest.mark.parametrize(
    ("reader", "raw", "named"),
    [
        (real, None, "NoneType"),
        (real, {"a": 1}, "dict"),
        (whole, [1], "list"),
        (number, {"a": 1}, "dict"),
        (as_number, "3", "str"),
        (entries, 5, "int"),
        (record, [1, 2], "list"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_with_its_type(
    reader: object, raw: object, named: str
) -> None:
    assert callable(reader)
    with pytest.raises(TypeError, match=named):
        reader(raw)


def test_exact_keeps_the_stored_value_of_its_kind() -> None:
    assert exact(str, "job") == "job"
    with pytest.raises(TypeError, match="expected str, got int"):
        exact(str, 5)


DECISION = Decision(
    job="j", rule="median", stop=True, step=4, value=0.25, threshold=0.2, references=5, reason="r"
)


def test_a_decision_reads_back_what_to_dict_wrote() -> None:
    back = Decision.from_dict(DECISION.to_dict())
    assert back == DECISION
    assert isinstance(back.step, int)  # an int step stays an int (the audit reads the same)


@pytest.mark.parametrize(
    ("key", "value"), [("stop", "yes"), ("references", 2.5), ("step", "4"), ("job", None)]
)
def test_a_decision_with_a_value_of_the_wrong_type_is_unreadable(key: str, value: object) -> None:
    with pytest.raises(TypeError):
        Decision.from_dict({**DECISION.to_dict(), key: value})
    with pytest.raises(KeyError):
        Decision.from_dict({k: v for k, v in DECISION.to_dict().items() if k != key})
