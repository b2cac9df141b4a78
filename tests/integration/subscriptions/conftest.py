"""Subscription tests: the shared server fixtures with fast delivery settings, and a real receiver."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from fhir_server.config import Settings

from .receiver import Receiver, receiving


@pytest.fixture(scope="module")
def server_settings(server_settings: Settings) -> Settings:
    return replace(server_settings, subscription_poll=0.2, subscription_retry_base=0.2, subscription_retry_max=0.4,
                   subscription_max_failures=3, subscription_timeout=2.0)


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    with receiving() as r:
        yield r
