"""The schema engine: a setting declared once, as a field of a frozen dataclass, and the one
validator every piece of configuration goes through (the policy document, a group's policy,
a job's tags, the functions' environment, the runtime controls, the shard messages, the
stack's ``cdk.json`` context).

A declaration (:func:`setting`) carries the default, the constraint, the key it is known by
outside (a ``cdk.json`` context key, an environment variable, a JSON key), the job tag that may
override it and one line of documentation. A bad value raises :class:`PolicyError` naming its
key, e.g. ``median.min_completed must be an integer >= 1, got 0``, with the declaration
attached (``exc.setting.key``; nothing parses the message).

Why not pydantic (the Powertools parser): importing pydantic and declaring these models costs
about half of a bare ``import boto3``, which alone breaks the cold-start budget (handler
import <= 1.3 x ``import boto3``). This engine is a couple of hundred lines over the stdlib.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import MISSING, Field, field, fields, is_dataclass, replace
from typing import TYPE_CHECKING, Literal, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

from ..core.values import frozen

Kind = Literal["bool", "int", "number", "text", "choice", "prices", "parsed"]
T = TypeVar("T")
D = TypeVar("D", bound="DataclassInstance")  # a declared settings dataclass
Parser = Callable[[object], object]  # reads a value of its own shape; raises ValueError


@frozen
class Setting:
    """What is declared about one setting (the schema)."""

    key: str  # its name outside: the cdk.json context key, the environment variable
    doc: str  # one line for the README's table
    kind: Kind
    minimum: float | None = None  # inclusive
    above: float | None = None  # exclusive
    maximum: float | None = None  # inclusive
    choices: tuple[object, ...] = ()
    nullable: bool = False  # None is a valid value (e.g. "never")
    tag: str | None = None  # a job tag that overrides it for one job
    path: str = ""  # dotted path in the document, filled in by walk()
    required: bool = False  # an environment variable that must be set (not empty)
    parser: Parser | None = None  # kind "parsed" (and "prices"): the value's own reader

    def describe(self) -> str:
        """The constraint in words (error messages, the README)."""
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return (
                "one of "
                + ", ".join(map(str, self.choices))
                + (" or null" if self.nullable else "")
            )
        if self.kind == "prices":
            return "an object of instance types"
        if self.kind in ("text", "parsed"):
            return "a string"
        noun = "an integer" if self.kind == "int" else "a number"
        bounds = []
        if self.above is not None:
            bounds.append(f"> {self.above:g}")
        elif self.minimum is not None:
            bounds.append(f">= {self.minimum:g}")
        if self.maximum is not None:
            bounds.append(f"<= {self.maximum:g}")
        return " ".join([noun, " and ".join(bounds)]).strip() + (
            " or null" if self.nullable else ""
        )


def setting(
    default: T,
    *,
    key: str,
    doc: str,
    minimum: float | None = None,
    above: float | None = None,
    maximum: float | None = None,
    choices: tuple[object, ...] = (),
    nullable: bool = False,
    tag: str | None = None,
    required: bool = False,
    parser: Parser | None = None,
    kind: Kind | None = None,
) -> T:
    """A dataclass field with its declaration (see :class:`Setting`); the kind follows from
    the default (and ``choices``, ``parser``) unless given."""
    if kind is not None:
        pass
    elif parser is not None:
        kind = "parsed"
    elif isinstance(default, bool):
        kind = "bool"
    elif choices:
        kind = "choice"
    elif isinstance(default, str):
        kind = "text"
    elif isinstance(default, int) and not nullable:
        kind = "int"
    else:
        kind = "number"
    declared = Setting(
        key, doc, kind, minimum, above, maximum, choices, nullable, tag, "", required, parser
    )
    meta = {"setting": declared}
    if isinstance(default, dict):
        empty: dict[str, object] = dict(default)
        return field(default_factory=lambda: dict(empty), metadata=meta)  # type: ignore[return-value]
    return field(default=default, metadata=meta)


class PolicyError(ValueError):
    """A configuration value that cannot be used; the message names the key. ``setting`` is
    the declaration it broke (None for a document-level problem, e.g. not JSON)."""

    def __init__(self, message: str, setting: Setting | None = None) -> None:
        super().__init__(message)
        self.setting = setting


# ---- the declarations of a dataclass ------------------------------------------------------------


def declared(f: Field[object]) -> Setting:
    """The declaration of a field made by :func:`setting`."""
    found = f.metadata.get("setting")
    assert isinstance(found, Setting), f"{f.name} is not declared with setting()"
    return found


# the metadata of a field that is no setting of its own (read otherwise, e.g. the environment's
# policy): walk() skips it
DERIVED = {"derived": True}


def section_of(f: Field[object]) -> type[DataclassInstance] | None:
    """The dataclass of a section field (a nested group of settings), None for a setting."""
    if "setting" in f.metadata or "derived" in f.metadata or f.default_factory is MISSING:
        return None
    factory = f.default_factory
    return factory if isinstance(factory, type) and is_dataclass(factory) else None


def default_of(f: Field[object]) -> object:
    if f.default is not MISSING:
        return f.default
    assert f.default_factory is not MISSING
    return f.default_factory()


def walk(cls: type[DataclassInstance], prefix: str = "") -> Iterator[tuple[Setting, object]]:
    """Every declared setting of ``cls`` (its sections' included) with its default, in
    declaration order (what ``infra`` derives the context keys, ``cdk.json`` and the README
    table from)."""
    for f in fields(cls):
        section = section_of(f)
        if section is not None:
            yield from walk(section, f"{prefix}{f.name}.")
        elif "derived" not in f.metadata:
            yield replace(declared(f), path=prefix + f.name), default_of(f)


def to_dict(value: DataclassInstance) -> dict[str, object]:
    """A declared dataclass as the document :func:`parse` reads back."""
    out: dict[str, object] = {}
    for f in fields(value):
        item = getattr(value, f.name)
        if section_of(f) is not None:
            out[f.name] = to_dict(item)
        elif isinstance(item, Mapping):
            out[f.name] = {k: dict(v) if isinstance(v, Mapping) else v for k, v in item.items()}
        else:
            out[f.name] = item
    return out


# ---- the validator --------------------------------------------------------------------------


def parse(cls: type[D], raw: Mapping[str, object], prefix: str = "", *, what: str = "") -> D:
    """``raw`` (a JSON object) as ``cls``: every key optional (the declared defaults), an
    unknown key or a bad value a :class:`PolicyError` naming it (``what`` prefixes the
    message, e.g. ``control GLOBAL: ``)."""
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        allowed = ", ".join(sorted(names))
        raise PolicyError(
            f"{what}unknown key {prefix}{unknown[0]} (allowed: {allowed})",
            _unknown_setting(cls, prefix),
        )
    values: dict[str, object] = {}
    for f in fields(cls):
        if f.name not in raw:
            if "setting" in f.metadata and declared(f).required:
                missing = replace(declared(f), path=prefix + f.name)
                raise PolicyError(f"{what}{missing.path} is missing", missing)
            continue
        section = section_of(f)
        if section is not None:
            inner = raw[f.name]
            if not isinstance(inner, Mapping):
                raise PolicyError(f"{what}{prefix}{f.name} must be an object, got {inner!r}")
            values[f.name] = parse(section, inner, f"{prefix}{f.name}.", what=what)
        else:
            try:
                values[f.name] = check(replace(declared(f), path=prefix + f.name), raw[f.name])
            except PolicyError as exc:
                if not what:
                    raise
                raise PolicyError(f"{what}{exc}", exc.setting) from None
    return cls(**values)


def _unknown_setting(cls: type[DataclassInstance], prefix: str) -> Setting | None:
    """An unknown key inside a section is blamed on the first setting there."""
    if prefix:
        f = fields(cls)[0]
        return replace(declared(f), path=prefix + f.name)
    return None


def check(declared: Setting, value: object) -> object:
    """``value`` if it satisfies ``declared`` (normalized: ints for int settings, floats for
    numbers), else :class:`PolicyError` naming the setting's path."""
    path = declared.path or declared.key

    def bad() -> PolicyError:
        return PolicyError(f"{path} must be {declared.describe()}, got {value!r}", declared)

    if value is None:
        if declared.nullable:
            return None
        raise bad()
    if declared.kind == "bool":
        if not isinstance(value, bool):
            raise bad()
        return value
    if declared.kind == "choice":
        if value not in declared.choices or isinstance(value, bool):
            raise bad()
        # the declared choice equal to it: an enum member where the choices are an enum's
        return declared.choices[declared.choices.index(value)]
    if declared.kind == "text":
        if not isinstance(value, str):
            raise bad()
        return value
    if declared.kind in ("prices", "parsed"):
        assert declared.parser is not None
        try:
            return declared.parser(value)
        except PolicyError as exc:
            raise PolicyError(str(exc), declared) from exc
        except (TypeError, ValueError) as exc:
            raise PolicyError(f"{path}: {exc}", declared) from exc
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise bad()
    if declared.kind == "int":
        if isinstance(value, float):
            if not value.is_integer():
                raise bad()
            value = int(value)
    else:
        value = float(value)
    if declared.minimum is not None and value < declared.minimum:
        raise bad()
    if declared.above is not None and value <= declared.above:
        raise bad()
    if declared.maximum is not None and value > declared.maximum:
        raise bad()
    return value


def from_text(declared: Setting, text: str | None, default: object = None) -> object:
    """A setting given as text (an environment variable, a job tag), checked: surrounding
    space ignored; empty or missing is ``default`` (:class:`PolicyError` "is not set" when the
    setting is ``required``); a bool is ``true`` or ``false`` in any case, a number its
    decimal text."""
    raw = "" if text is None else text.strip()
    if not raw:
        if declared.required:
            raise PolicyError(f"{declared.path or declared.key} is not set", declared)
        return default
    value: object = raw
    if declared.kind == "bool":
        value = {"true": True, "false": False}.get(raw.lower(), raw)
    elif declared.kind in ("int", "number"):
        value = number(declared.path or declared.key, raw)
    elif declared.kind == "choice":
        value = raw.lower()
    return check(declared, value)


def number(name: str, text: str) -> float | int:
    """A number given as text (an int when it is whole), finite, or :class:`PolicyError`
    naming ``name``."""
    try:
        value = float(text)
    except ValueError:
        raise PolicyError(f"{name} must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise PolicyError(f"{name} must be finite, got {text!r}")
    return int(value) if value.is_integer() else value


def read_env(cls: type[D], environ: Mapping[str, str], **given: object) -> D:
    """``cls``'s declared settings from ``environ`` (each field's key is its variable; missing
    or empty: its default), ``given`` the fields not read from the environment."""
    values = dict(given)
    for f in fields(cls):
        if f.name in given:
            continue
        values[f.name] = from_text(declared(f), environ.get(declared(f).key), default_of(f))
    return cls(**values)
