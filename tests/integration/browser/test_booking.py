"""The patient booking journey in Chromium, at desktop width and at 375 px: sign in to the app
through the server's own SMART pages, department -> doctor -> date -> free slot -> confirm,
then my appointments (cancel). Checked on the page (axe, CSP, screenshots) and on the FHIR
data the app wrote: the Appointment booked for the patient, its Slot busy (free again after cancel)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.integration.webapp.seed import seed, seed_clinic

from .checks import check_page, watch_csp
from .conftest import DESKTOP, PHONE


@pytest.fixture(scope="module")
def lee(database_url: str, root_url: str, server_url: str) -> Iterator[httpx.Client]:
    seed(database_url, root_url, server_url)
    api = seed_clinic(database_url, root_url, server_url)
    yield api
    api.close()


@pytest.fixture()
def page(lee: httpx.Client, chromium: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    # lee first: its set-up runs asyncio, which cannot start once Playwright's loop runs here.
    context = chromium.new_context(viewport=request.param)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def _next_weekday() -> date:
    day = date.today() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _sign_in(page: Any, root_url: str, suffix: str, csp: list[str]) -> None:
    page.goto(f"{root_url}/app/")
    check_page(page, f"app-landing{suffix}", csp)
    page.click("a:has-text('Sign in')")
    page.fill("#username", "jane")
    page.fill("#password", "jane-password")
    page.click("button:has-text('Sign in')")
    page.click("button:has-text('Allow')")
    page.wait_for_url(f"{root_url}/app/")
    assert page.locator(".who").inner_text() == "Signed in as Jane Doe"
    check_page(page, f"app-home{suffix}", csp)


def _walk_to_confirmation(page: Any, day: date, choice: int, suffix: str, csp: list[str]) -> str:
    """Department -> doctor -> date -> the ``choice``-th free time; returns the time chosen."""
    page.click("a:has-text('Book an appointment')")
    check_page(page, f"app-book-departments{suffix}", csp)
    page.click("a:has-text('Cardiology outpatient clinic')")
    check_page(page, f"app-book-doctors{suffix}", csp)
    page.click("a:has-text('Grace Lee')")
    now = datetime.now(UTC).strftime("%H:%M")
    offered_today = page.locator(".slots a").all_inner_texts()
    assert all(time > now for time in offered_today), "a past time was offered"
    page.fill("#date", day.isoformat())
    page.click("button:has-text('Show free times')")
    times = page.locator(".slots a").all_inner_texts()
    assert times == ["09:00", "10:00", "11:00", "12:00"]  # 09:00-13:00 in hourly Slots
    check_page(page, f"app-book-times{suffix}", csp)
    page.locator(".slots a").nth(choice).click()
    assert page.locator("h1").inner_text() == "Confirm your appointment"
    assert page.locator(".when").inner_text() == f"{day.isoformat()} {times[choice]}"
    check_page(page, f"app-book-confirm{suffix}", csp)
    return times[choice]


def _booked_on(lee: httpx.Client, day: date, at: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(booked Appointments of Jane on that Slot, the Slot) from the API."""
    start = f"{day.isoformat()}T{at}:00Z"
    slots = lee.get("/Slot", params={"schedule": "Schedule/demo-dr-lee-schedule", "start": start}).json()["entry"]
    slot = slots[0]["resource"]
    found = lee.get("/Appointment", params={"slot": f"Slot/{slot['id']}", "patient": "Patient/jane",
                                            "status": "booked"}).json()
    return [e["resource"] for e in found.get("entry", [])], slot


@pytest.mark.parametrize("page", [DESKTOP], indirect=True)
def test_book_and_cancel_at_desktop(page: Any, root_url: str, lee: httpx.Client) -> None:
    csp = watch_csp(page)
    _sign_in(page, root_url, "", csp)
    day = _next_weekday()
    at = _walk_to_confirmation(page, day, 0, "", csp)
    page.click("button:has-text('Confirm booking')")
    assert page.locator("h1").inner_text() == "Your appointment is booked"
    assert page.locator(".alert-success").inner_text() == f"{day.isoformat()} {at} · booked"
    check_page(page, "app-book-done", csp)
    booked, slot = _booked_on(lee, day, at)
    assert len(booked) == 1 and slot["status"] == "busy"
    assert {p["actor"]["reference"] for p in booked[0]["participant"]} >= {"Patient/jane", "Practitioner/demo-dr-lee"}

    page.click("a:has-text('My appointments')")
    row = page.locator("table.appointments tr", has_text=f"{day.isoformat()} {at}")
    assert row.locator("td").nth(2).inner_text() == "booked"
    row.locator("button:has-text('Cancel')").click()
    assert page.locator("[role=status]").inner_text() == "The appointment is cancelled."
    check_page(page, "app-home-after-cancel", csp)
    booked, slot = _booked_on(lee, day, at)
    assert booked == [] and slot["status"] == "free"


@pytest.mark.parametrize("page", [PHONE], indirect=True)
def test_book_at_375px_and_a_retry_books_once(page: Any, root_url: str, lee: httpx.Client) -> None:
    csp = watch_csp(page)
    _sign_in(page, root_url, "-375", csp)
    day = _next_weekday()
    at = _walk_to_confirmation(page, day, 1, "-375", csp)
    form = {name: page.locator(f"form[action='/app/book'] input[name={name}]").input_value()
            for name in ("csrf", "role", "slot", "key")}
    page.click("button:has-text('Confirm booking')")
    assert page.locator("h1").inner_text() == "Your appointment is booked"
    check_page(page, "app-book-done-375", csp)
    # The same confirmation sent again (a double click, a retry after a lost answer): no second booking.
    again = page.request.post(f"{root_url}/app/book", form=form, max_redirects=0)
    assert again.status == 303 and again.headers["location"].startswith("/app/book/done?appointment=")
    booked, slot = _booked_on(lee, day, at)
    assert len(booked) == 1 and slot["status"] == "busy"
    assert again.headers["location"] == f"/app/book/done?appointment={booked[0]['id']}"
