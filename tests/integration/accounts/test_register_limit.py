"""Registrations per client address are limited (FHIR_REGISTER_MAX_PER_ADDRESS per window): over
the limit, 429 with Retry-After and nothing written, for JSON and for the form."""

from __future__ import annotations

import re

import httpx
import pytest

from fhir_server.config import Settings
from tests.conftest import free_port


@pytest.fixture(scope="module")
def server_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, host="127.0.0.1", port=free_port(), auth="on", pool_min=1, pool_max=8,
                    log_level="warning", register_max_per_address=2, register_window_seconds=600)


def test_third_registration_from_one_address_is_429(browser: httpx.Client, root_url: str) -> None:
    def attempt(n: int) -> httpx.Response:
        return browser.post(f"{root_url}/register", json={
            "given": f"Test{n}", "family": "Limit", "birth_date": "1980-01-01", "email": f"limit{n}@example.org",
            "password": "Limit-password-1"})
    assert [attempt(1).status_code, attempt(2).status_code] == [201, 201]
    third = attempt(3)
    assert third.status_code == 429
    assert 590 <= int(third.headers["retry-after"]) <= 600
    assert third.json()["issue"][0]["diagnostics"].startswith("Too many registrations from your network address.")
    page = browser.get(f"{root_url}/register")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    form = browser.post(f"{root_url}/register", data={"csrf": csrf.group(1), "given": "F", "family": "L",
                                                       "birth_date": "1980-01-01", "email": "f@example.org",
                                                       "password": "Limit-password-1"})
    assert form.status_code == 429 and "Too many registrations" in form.text
