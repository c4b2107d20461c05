"""``@frozen`` and ``@mutable``: dataclasses that cost far less to define.

The project's values are dataclasses, and a handler's cold start defines about seventy of
them. ``dataclasses.dataclass`` compiles up to six methods per class from generated source
(``__init__``, ``__repr__``, ``__eq__``, ``__hash__``, and a frozen class's ``__setattr__`` and
``__delattr__``), most of a handler's own import time (bench/RESULTS.md, section "Cold
start"). ``@frozen`` and ``@mutable`` make the same class:

- the fields are the dataclass's own: ``dataclasses.dataclass`` processes the class with
  nothing to generate, so ``fields``, ``replace``, ``asdict``, ``is_dataclass``,
  ``__match_args__`` and the type checker (``dataclass_transform``) see a dataclass;
- ``__init__`` is compiled from the fields as the dataclass's is, once, when the class is
  first instantiated (a class a cold start never builds costs nothing more); instances are
  then built as fast as a dataclass's;
- ``__eq__``, ``__hash__``, ``__repr__``, the ordering methods and a frozen class's
  ``__setattr__`` / ``__delattr__`` are closures over the field names, with the dataclass's
  semantics: equal when of the same class with equal compared fields, the hash of that same
  tuple (a mutable class is unhashable), the same repr, ``FrozenInstanceError`` on assignment.
  A method the class defines itself is kept, as a dataclass keeps it.

``@frozen`` is ``@dataclass(frozen=True)`` (``@frozen(order=True)``, ``@frozen(kw_only=True)``
take the dataclass's parameters); ``@mutable`` is ``@dataclass``. A subclass of a ``@frozen``
class is ``@frozen`` too. Not taken: ``slots``, ``InitVar`` and per-field ``kw_only`` (use
``dataclasses.dataclass`` for those). ``__dataclass_params__`` reads as the processing it did
(no generated methods). tests/unit/test_values.py holds it to the dataclass's behaviour.
"""

from __future__ import annotations

import dataclasses
import operator
import reprlib
from collections.abc import Callable
from operator import attrgetter
from types import FunctionType
from typing import TypeVar, dataclass_transform, overload

T = TypeVar("T")
Compared = tuple[object, ...]  # the compared fields of an instance
Key = Callable[[object], Compared]

_HAS_FACTORY = object()  # an __init__ argument left to its field's default_factory


@overload
@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field, dataclasses.Field))
def frozen(cls: type[T], /) -> type[T]: ...
@overload
def frozen(*, order: bool = False, kw_only: bool = False) -> Callable[[type[T]], type[T]]: ...
def frozen(
    cls: type[T] | None = None, /, *, order: bool = False, kw_only: bool = False
) -> type[T] | Callable[[type[T]], type[T]]:
    """``cls`` as ``@dataclass(frozen=True, order=order, kw_only=kw_only)`` makes it."""

    def make(cls: type[T]) -> type[T]:
        return _make(cls, frozen=True, order=order, kw_only=kw_only)

    return make if cls is None else make(cls)


@dataclass_transform(field_specifiers=(dataclasses.field, dataclasses.Field))
def mutable(cls: type[T]) -> type[T]:
    """``cls`` as ``@dataclass`` makes it."""
    return _make(cls, frozen=False, order=False, kw_only=False)


def _make(cls: type[T], *, frozen: bool, order: bool, kw_only: bool) -> type[T]:
    own = cls.__dict__
    explicit_hash = own.get("__hash__", dataclasses.MISSING)
    has_explicit_hash = not (
        explicit_hash is dataclasses.MISSING or (explicit_hash is None and "__eq__" in own)
    )
    if frozen and ("__setattr__" in own or "__delattr__" in own):
        raise TypeError(f"cannot overwrite __setattr__ / __delattr__ in class {cls.__name__}")
    if not cls.__doc__:  # else dataclasses writes one from inspect.signature (slow)
        cls.__doc__ = f"{cls.__name__}(...)"
    dataclasses.dataclass(init=False, repr=False, eq=False)(cls)
    declared: dict[str, dataclasses.Field[object]] = own["__dataclass_fields__"]
    if any(f.kw_only is True or _is_initvar(f.type) for f in declared.values()):
        raise TypeError(f"{cls.__name__}: InitVar and kw_only fields need @dataclass")
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]  # a dataclass since the line above
    compared = _key(tuple(f.name for f in fields if f.compare))
    methods: dict[str, object] = {"__init__": _lazy_init(cls, fields, kw_only)}
    if "__eq__" not in own:
        methods["__eq__"] = _eq(compared)
    if not has_explicit_hash:
        if frozen:
            hashed = tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash))
            methods["__hash__"] = _hash(_key(hashed))
        else:
            methods["__hash__"] = None  # eq without frozen: unhashable, as a dataclass
    if "__repr__" not in own:
        methods["__repr__"] = _repr(tuple(f.name for f in fields if f.repr))
    if order:
        methods.update(_order(compared))
    if frozen:
        names = frozenset(f.name for f in fields)
        methods["__setattr__"] = _setattr(cls, names)
        methods["__delattr__"] = _delattr(cls, names)
    for name, method in methods.items():
        setattr(cls, name, method)
    return cls


def _is_initvar(annotation: object) -> bool:
    if isinstance(annotation, str):
        return annotation.startswith(("InitVar", "dataclasses.InitVar"))
    return annotation is dataclasses.InitVar or isinstance(annotation, dataclasses.InitVar)


def _lazy_init(
    cls: type, fields: tuple[dataclasses.Field[object], ...], kw_only: bool
) -> Callable[..., object]:
    """An ``__init__`` that compiles the class's own at its first call and stands aside."""

    def __init__(self: object, *args: object, **kwargs: object) -> None:
        init = _init(cls, fields, kw_only)
        type.__setattr__(cls, "__init__", init)
        init(self, *args, **kwargs)

    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    return __init__


def _init(
    cls: type, fields: tuple[dataclasses.Field[object], ...], kw_only: bool
) -> Callable[..., object]:
    """The class's ``__init__``: the dataclass's arguments, defaults and factories."""
    scope: dict[str, object] = {"_set": object.__setattr__, "_HAS_FACTORY": _HAS_FACTORY}
    args: list[str] = []
    body: list[str] = []
    for index, field in enumerate(fields):
        name = field.name
        has_factory = field.default_factory is not dataclasses.MISSING
        if has_factory:
            scope[f"_f{index}"] = field.default_factory
        if not field.init:
            if has_factory:
                body.append(f" _set(self, {name!r}, _f{index}())")
            continue
        if has_factory:
            args.append(f"{name}=_HAS_FACTORY")
            body.append(f" _set(self, {name!r}, _f{index}() if {name} is _HAS_FACTORY else {name})")
            continue
        if field.default is not dataclasses.MISSING:
            scope[f"_d{index}"] = field.default
            args.append(f"{name}=_d{index}")
        else:
            args.append(name)
        body.append(f" _set(self, {name!r}, {name})")
    if hasattr(cls, "__post_init__"):
        body.append(" self.__post_init__()")
    signature = ", ".join(["self", *(["*"] if kw_only and args else []), *args])
    source = f"def __init__({signature}):\n" + ("\n".join(body) or " pass") + "\n"
    exec(compile(source, f"<{cls.__qualname__}.__init__>", "exec"), scope)
    init = scope["__init__"]
    assert isinstance(init, FunctionType)  # the def just compiled
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


def _key(names: tuple[str, ...]) -> Key:
    """The tuple of ``names`` of an instance (a dataclass compares and hashes that tuple)."""
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        (name,) = names
        return lambda self: (getattr(self, name),)
    return lambda self: ()


def _eq(key: Key) -> Callable[[object, object], bool]:
    def __eq__(self: object, other: object) -> bool:
        if self is other:
            return True
        if other.__class__ is self.__class__:
            return key(self) == key(other)
        return NotImplemented

    return __eq__


def _order(key: Key) -> dict[str, Callable[[object, object], object]]:
    """``__lt__``, ``__le__``, ``__gt__``, ``__ge__``: the compared tuples, same class only."""

    def method(compare: Callable[[Compared, Compared], bool]) -> Callable[[object, object], object]:
        def ordered(self: object, other: object) -> object:  # a bool, or NotImplemented
            if other.__class__ is self.__class__:
                return compare(key(self), key(other))
            return NotImplemented

        ordered.__name__ = f"__{compare.__name__}__"
        return ordered

    return {
        f"__{op.__name__}__": method(op)
        for op in (operator.lt, operator.le, operator.gt, operator.ge)
    }


def _hash(key: Key) -> Callable[[object], int]:
    def __hash__(self: object) -> int:
        return hash(key(self))

    return __hash__


def _repr(names: tuple[str, ...]) -> Callable[[object], str]:
    @reprlib.recursive_repr()
    def __repr__(self: object) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{self.__class__.__qualname__}({shown})"

    return __repr__


def _setattr(cls: type, names: frozenset[str]) -> Callable[[object, str, object], None]:
    def __setattr__(self: object, name: str, value: object) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
        object.__setattr__(self, name, value)

    return __setattr__


def _delattr(cls: type, names: frozenset[str]) -> Callable[[object, str], None]:
    def __delattr__(self: object, name: str) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
        object.__delattr__(self, name)

    return __delattr__
