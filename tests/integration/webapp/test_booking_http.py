"""The booking journey's refusals over HTTP: no CSRF token, nothing booked; a retried or
re-keyed confirmation books once; a taken time answers 409 with a retry link; a past day is
never offered."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import httpx
import pytest

from tests.integration.smart_auth.helpers import hidden

from .seed import seed, seed_clinic
from .test_shell import sign_in


@pytest.fixture(scope="module")
def lee(database_url: str, root_url: str, server_url: str) -> Iterator[httpx.Client]:
    seed(database_url, root_url, server_url)
    api = seed_clinic(database_url, root_url, server_url)
    yield api
    api.close()


@pytest.fixture()
def browser(root_url: str, lee: httpx.Client) -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30, follow_redirects=False) as http:
        sign_in(http, root_url)
        yield http


def _weekday(after: int = 1) -> date:
    day = date.today() + timedelta(days=after)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _slot(lee: httpx.Client, day: date, hour: int) -> str:
    found = lee.get("/Slot", params={"schedule": "Schedule/demo-dr-lee-schedule",
                                     "start": f"{day.isoformat()}T{hour:02}:00:00Z"}).json()
    return str(found["entry"][0]["resource"]["id"])


def _booked_on_slot(lee: httpx.Client, slot: str) -> list[str]:
    found = lee.get("/Appointment", params={"slot": f"Slot/{slot}", "status": "booked"}).json()
    return [e["resource"]["id"] for e in found.get("entry", [])]


def _confirm_form(browser: httpx.Client, root_url: str, slot: str) -> dict[str, str]:
    page = browser.get(f"{root_url}/app/book/confirm", params={"role": "demo-dr-lee-cardiology", "slot": slot})
    assert page.status_code == 200, page.text
    return {name: hidden(page.text, name) for name in ("csrf", "role", "slot", "key")}


def test_no_csrf_token_books_nothing(browser: httpx.Client, root_url: str, lee: httpx.Client) -> None:
    slot = _slot(lee, _weekday(), 9)
    form = _confirm_form(browser, root_url, slot)
    refused = browser.post(f"{root_url}/app/book", data={**form, "csrf": "forged"})
    assert refused.status_code == 403
    assert _booked_on_slot(lee, slot) == []


def test_a_retry_or_a_second_key_books_once(browser: httpx.Client, root_url: str, lee: httpx.Client) -> None:
    slot = _slot(lee, _weekday(), 10)
    form = _confirm_form(browser, root_url, slot)
    first = browser.post(f"{root_url}/app/book", data=form)
    assert first.status_code == 303 and first.headers["location"].startswith("/app/book/done?appointment=")
    again = browser.post(f"{root_url}/app/book", data=form)
    other_key = browser.post(f"{root_url}/app/book", data={**form, "key": "another-key"})
    assert again.headers["location"] == first.headers["location"] == other_key.headers["location"]
    booked = _booked_on_slot(lee, slot)
    assert len(booked) == 1 and first.headers["location"].endswith(booked[0])
    assert lee.get(f"/Slot/{slot}").json()["status"] == "busy"


def test_a_time_taken_meanwhile_is_a_409_with_a_retry(browser: httpx.Client, root_url: str,
                                                      lee: httpx.Client) -> None:
    day = _weekday()
    slot = _slot(lee, day, 11)
    form = _confirm_form(browser, root_url, slot)
    taken = lee.post("/Appointment/$book", json={
        "resourceType": "Appointment", "status": "proposed", "slot": [{"reference": f"Slot/{slot}"}],
        "start": f"{day.isoformat()}T11:00:00Z", "end": f"{day.isoformat()}T12:00:00Z",
        "participant": [{"actor": {"reference": "Practitioner/demo-dr-lee"}, "status": "accepted"}]})
    assert taken.status_code == 200, taken.text
    late = browser.post(f"{root_url}/app/book", data=form)
    assert late.status_code == 409
    assert '<div class="alert alert-danger" role="alert">This time is no longer free.</div>' in late.text
    assert '<a class="btn btn-primary" href="/app/book/times?role=demo-dr-lee-cardiology">Try again</a>' in late.text
    assert _booked_on_slot(lee, slot) == [taken.json()["id"]]


def test_a_past_day_is_never_offered(browser: httpx.Client, root_url: str, lee: httpx.Client) -> None:
    page = browser.get(f"{root_url}/app/book/times", params={"role": "demo-dr-lee-cardiology", "date": "2020-01-06"})
    assert page.status_code == 200
    today = date.today().isoformat()
    assert f'value="{today}" min="{today}" required>' in page.text and "2020-01-06" not in page.text
