"""``@frozen`` and ``@mutable`` behave as the dataclasses they stand for: each class shape is
declared twice, once with ``dataclasses.dataclass`` and once with ours, and every behaviour a
caller can see is compared."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from collections.abc import Callable
from typing import Any

import pytest

from trainguard.core.values import frozen, mutable

pytestmark = pytest.mark.unit


def shapes(decorate: Callable[..., Any], frozen_: bool) -> dict[str, type]:
    """The same class shapes under ``decorate`` (a dataclass decorator or ours)."""

    @decorate
    class Plain:
        name: str
        count: int = 0
        tags: tuple[str, ...] = dataclasses.field(default_factory=tuple)
        note: str = dataclasses.field(default="n", compare=False, repr=False)
        seen: list[str] = dataclasses.field(default_factory=list, compare=False)
        derived: frozenset[str] = dataclasses.field(init=False, default_factory=frozenset)

    @decorate
    class Empty:
        pass

    @decorate
    class One:
        value: float

    @decorate
    class Checked:
        low: float
        high: float

        def __post_init__(self) -> None:
            if self.low > self.high:
                raise ValueError("low above high")

    return {"Plain": Plain, "Empty": Empty, "One": One, "Checked": Checked}


STD = shapes(dataclasses.dataclass(frozen=True), True)
OURS = shapes(frozen, True)
STD_MUTABLE = shapes(dataclasses.dataclass, False)
OURS_MUTABLE = shapes(mutable, False)

ARGS: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {
    "Plain": (("job", 3), {"tags": ("a",), "note": "x"}),
    "Empty": ((), {}),
    "One": ((float("nan"),), {}),
    "Checked": ((1.0,), {"high": 2.0}),
}


def both(name: str, std: dict[str, type], ours: dict[str, type]) -> tuple[Any, Any]:
    args, kwargs = ARGS[name]
    return std[name](*args, **kwargs), ours[name](*args, **kwargs)


@pytest.mark.parametrize("name", list(ARGS))
@pytest.mark.parametrize("pair", ["frozen", "mutable"])
def test_an_instance_reads_compares_and_prints_as_the_dataclass(name: str, pair: str) -> None:
    std, ours = (STD, OURS) if pair == "frozen" else (STD_MUTABLE, OURS_MUTABLE)
    a, b = both(name, std, ours)
    assert dataclasses.asdict(a) == dataclasses.asdict(b) or name == "One"  # nan != nan
    assert repr(a).split("(", 1)[1] == repr(b).split("(", 1)[1]
    assert [f.name for f in dataclasses.fields(a)] == [f.name for f in dataclasses.fields(b)]
    assert type(a).__match_args__ == type(b).__match_args__  # type: ignore[attr-defined]
    again = both(name, std, ours)[1]
    assert (b == again) == (a == both(name, std, ours)[0])
    assert b == b and (b != object())
    assert b != a  # another class: NotImplemented both ways, so unequal
    if pair == "frozen":
        assert hash(b) == hash(a)
    else:
        with pytest.raises(TypeError, match="unhashable"):
            hash(b)


def test_compare_false_fields_are_left_out_of_equality_and_hash_and_repr_false_of_repr() -> None:
    one = OURS["Plain"]("job", note="a")
    other = OURS["Plain"]("job", note="b")
    assert one == other and hash(one) == hash(other)
    assert "note" not in repr(one)
    assert OURS["Plain"]("job", 1) != OURS["Plain"]("job", 2)


def test_defaults_factories_and_init_false_fields_as_the_dataclass() -> None:
    first, second = OURS["Plain"]("a"), OURS["Plain"]("b")
    assert first.count == 0 and first.tags == () and first.derived == frozenset()
    assert first.seen == [] and first.seen is not second.seen  # a fresh list per instance
    with pytest.raises(TypeError):
        OURS["Plain"]("a", derived=frozenset())  # init=False
    with pytest.raises(TypeError):
        OURS["Plain"]()  # the required field
    with pytest.raises(ValueError, match="low above high"):
        OURS["Checked"](2.0, 1.0)  # __post_init__ runs


def test_a_frozen_instance_refuses_assignment_and_deletion() -> None:
    instance = OURS["Plain"]("job")
    with pytest.raises(dataclasses.FrozenInstanceError):
        instance.count = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        instance.other = 1  # type: ignore[attr-defined]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del instance.count
    changed = OURS_MUTABLE["Plain"]("job")
    changed.count = 5
    assert changed.count == 5


def test_replace_copy_and_pickle_keep_the_value() -> None:
    instance = OURS["Plain"]("job", 2, ("t",))
    moved = dataclasses.replace(instance, count=3)
    assert (moved.name, moved.count, moved.tags) == ("job", 3, ("t",))
    assert copy.deepcopy(instance) == instance
    assert pickle.loads(pickle.dumps(RoundTrip("a", 1))) == RoundTrip("a", 1)


@frozen
class RoundTrip:  # module level: pickle finds the class by name
    name: str
    count: int


@frozen(order=True)
class Ordered:
    rule: str
    host: str | None = ""


def test_order_and_kw_only_as_the_dataclass() -> None:
    std = dataclasses.dataclass(frozen=True, order=True)(
        type("Std", (), {"__annotations__": {"a": "str", "b": "int"}})
    )
    assert sorted([Ordered("b"), Ordered("a", "y"), Ordered("a", "x")]) == [
        Ordered("a", "x"),
        Ordered("a", "y"),
        Ordered("b"),
    ]
    assert (Ordered("a") < Ordered("b")) == (std("a", 1) < std("b", 1))
    with pytest.raises(TypeError):
        _ = Ordered("a") < ("a", "")  # another class
    keyword = frozen(kw_only=True)(type("Kw", (), {"__annotations__": {"a": "int"}}))
    assert keyword(a=1).a == 1
    with pytest.raises(TypeError):
        keyword(1)


def test_a_method_the_class_defines_is_kept() -> None:
    @frozen
    class Own:
        name: str

        def __repr__(self) -> str:
            return f"<{self.name}>"

        def __eq__(self, other: object) -> bool:
            return isinstance(other, Own) and self.name.lower() == other.name.lower()

        def __hash__(self) -> int:
            return hash(self.name.lower())

    assert repr(Own("A")) == "<A>"
    assert Own("A") == Own("a") and hash(Own("A")) == hash(Own("a"))


def test_a_subclass_is_a_value_with_the_bases_fields() -> None:
    @frozen
    class Base:
        a: int
        b: int = 2

    @frozen
    class Child(Base):
        c: int = 3

    assert Child(1) == Child(1, 2, 3) and Child(1) != Base(1)
    assert [f.name for f in dataclasses.fields(Child)] == ["a", "b", "c"]
    with pytest.raises(TypeError, match="frozen"):
        dataclasses.dataclass(frozen=True)(type("Std", (Base,), {"__annotations__": {"d": "int"}}))


def test_init_is_compiled_at_the_first_instance_and_then_is_the_class_own() -> None:
    @frozen
    class Lazy:
        a: int

    placeholder = Lazy.__init__
    assert Lazy(1).a == 1
    assert Lazy.__init__ is not placeholder
    assert Lazy.__init__.__code__.co_varnames[:2] == ("self", "a")


def test_what_it_does_not_take_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="__setattr__"):

        @frozen
        class Own:
            a: int

            def __setattr__(self, name: str, value: object) -> None: ...

    with pytest.raises(TypeError, match="InitVar"):
        frozen(type("Init", (), {"__annotations__": {"a": "InitVar[int]"}}))
