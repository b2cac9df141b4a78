"""An https endpoint whose host does not resolve is accepted when the Subscription is stored (its
delivery checks again and fails); at delivery, and for http or a literal private address, it is refused."""

from __future__ import annotations

import asyncio

import pytest

from fhir_server.errors import Unprocessable
from fhir_server.subscriptions.endpoint import check_endpoint

UNRESOLVABLE = "https://no-such-host.invalid/hook"  # .invalid never resolves (RFC 2606)


def test_an_unresolvable_https_host_is_accepted_when_written() -> None:
    asyncio.run(check_endpoint(UNRESOLVABLE, writing=True))


def test_an_unresolvable_host_is_refused_at_delivery() -> None:
    with pytest.raises(Unprocessable, match="does not resolve"):
        asyncio.run(check_endpoint(UNRESOLVABLE))


def test_http_to_an_unresolvable_host_is_refused_even_when_written() -> None:
    with pytest.raises(Unprocessable, match="does not resolve"):
        asyncio.run(check_endpoint("http://no-such-host.invalid/hook", writing=True))


def test_a_literal_private_address_is_refused_when_written() -> None:
    with pytest.raises(Unprocessable, match="private or link-local"):
        asyncio.run(check_endpoint("https://10.1.2.3/hook", writing=True))
