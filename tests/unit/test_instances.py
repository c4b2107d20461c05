"""The instance catalog: GPU counts and prices, overrides, unknown types."""

from __future__ import annotations

import pytest

from trainguard.core.instances import DEFAULT_CATALOG, PRICES_AS_OF, PRICES_REGION, InstanceCatalog

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("instance_type", "gpus"),
    [
        ("ml.p4d.24xlarge", 8),
        ("ml.p4de.24xlarge", 8),
        ("ml.p5.48xlarge", 8),
        ("ml.p5e.48xlarge", 8),
        ("ml.p5en.48xlarge", 8),
        ("ml.p3.2xlarge", 1),
        ("ml.p3.16xlarge", 8),
        ("ml.g5.xlarge", 1),
        ("ml.g5.12xlarge", 4),
        ("ml.g5.48xlarge", 8),
        ("ml.g4dn.12xlarge", 4),
        ("ml.g6.12xlarge", 4),
        ("ml.g6e.48xlarge", 8),
        ("ml.trn1.32xlarge", 16),
        ("ml.m5.xlarge", 0),
    ],
)
def test_known_gpu_counts(instance_type: str, gpus: int) -> None:
    spec = DEFAULT_CATALOG.get(instance_type)
    assert spec is not None and spec.gpus == gpus
    assert instance_type in DEFAULT_CATALOG


def test_every_default_price_is_positive_and_dated() -> None:
    assert PRICES_REGION == "us-east-1" and PRICES_AS_OF
    for name in DEFAULT_CATALOG.names():
        spec = DEFAULT_CATALOG.get(name)
        assert spec is not None and spec.usd_per_hour > 0, name
        assert name.startswith("ml."), name


def test_unknown_type_is_none_not_a_crash() -> None:
    assert DEFAULT_CATALOG.get("ml.p99.mega") is None
    assert "ml.p99.mega" not in DEFAULT_CATALOG


def test_override_changes_one_field_and_keeps_the_rest() -> None:
    catalog = InstanceCatalog({"ml.p4d.24xlarge": {"usd_per_hour": 20}})
    spec = catalog.get("ml.p4d.24xlarge")
    assert spec is not None
    assert (spec.gpus, spec.usd_per_hour, spec.accelerator) == (8, 20.0, "A100")
    # the default catalog is not touched by an override elsewhere
    default = DEFAULT_CATALOG.get("ml.p4d.24xlarge")
    assert default is not None and default.usd_per_hour != 20.0


def test_override_adds_a_new_type() -> None:
    catalog = InstanceCatalog({"ml.p6-b200.48xlarge": {"gpus": 8, "usd_per_hour": 150.5}})
    spec = catalog.get("ml.p6-b200.48xlarge")
    assert spec is not None and (spec.gpus, spec.usd_per_hour) == (8, 150.5)


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ({"gpus": "8"}, "prices.ml.g5.xlarge.gpus"),
        ({"gpus": -1}, "prices.ml.g5.xlarge.gpus"),
        ({"gpus": 1.5}, "prices.ml.g5.xlarge.gpus"),
        ({"gpus": True}, "prices.ml.g5.xlarge.gpus"),
        ({"usd_per_hour": "cheap"}, "prices.ml.g5.xlarge.usd_per_hour"),
        ({"usd_per_hour": -0.5}, "prices.ml.g5.xlarge.usd_per_hour"),
        # Python's json accepts NaN and Infinity: a policy file could carry them
        ({"usd_per_hour": float("nan")}, "prices.ml.g5.xlarge.usd_per_hour"),
        ({"usd_per_hour": float("inf")}, "prices.ml.g5.xlarge.usd_per_hour"),
    ],
)
def test_bad_override_raises_naming_the_key(override: dict[str, object], key: str) -> None:
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        InstanceCatalog({"ml.g5.xlarge": override})
