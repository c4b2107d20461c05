"""Unit tests touch no network: pytest-socket refuses every internet socket they would open
(fakes stand in for AWS here; moto-backed tests live in tests/integration)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_socket import disable_socket, enable_socket


@pytest.fixture(autouse=True)
def _no_network() -> Iterator[None]:
    disable_socket(allow_unix_socket=True)
    yield
    enable_socket()
