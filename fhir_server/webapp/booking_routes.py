"""Routes of the patient booking journey (see ``booking``) and of cancelling from "my appointments"."""

from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..smart_auth.hashing import random_token
from . import booking, sessions
from .fhir_api import api
from .guard import FriendlyErrors, checked_form, refused, require_session
from .render import page

__all__ = ["router"]

router = APIRouter(route_class=FriendlyErrors)


def _failed(request: Request, error: booking.BookingFailed, retry: str) -> Response:
    status = error.status if error.status in (403, 404, 409, 422) else 502
    return page(request, "book_failed.html", status, reason=error.text, retry=retry)


def _day(request: Request, raw: str | None) -> date:
    today = datetime.now(booking._zone(request)).date()
    try:
        chosen = date.fromisoformat(raw) if raw else today
    except ValueError:
        chosen = today
    return max(chosen, today)  # never a past day


@router.get("/book")
async def departments(request: Request) -> Response:
    session = await require_session(request)
    if not isinstance(session, sessions.Session):
        return session
    return page(request, "book_departments.html", session=session,
                departments=await booking.departments(request, session))


@router.get("/book/doctors")
async def doctors(request: Request) -> Response:
    session = await require_session(request)
    if not isinstance(session, sessions.Session):
        return session
    service = request.query_params.get("service", "")
    return page(request, "book_doctors.html", session=session, doctors=await booking.doctors(request, session, service))


@router.get("/book/times")
async def times(request: Request) -> Response:
    session = await require_session(request)
    if not isinstance(session, sessions.Session):
        return session
    role = request.query_params.get("role", "")
    try:
        doctor = await booking.doctor(request, session, role)
    except booking.BookingFailed as error:
        return _failed(request, error, "/app/book")
    day = _day(request, request.query_params.get("date"))
    offers = await booking.free_times(request, session, doctor["practitioner"], day)
    slots = [{"slot": o["slot"][0]["reference"].split("/", 1)[1], "time": booking.local_time(request, o["start"])[11:]}
             for o in offers if o.get("slot")]
    today = datetime.now(booking._zone(request)).date()
    return page(request, "book_times.html", session=session, doctor=doctor, day=day.isoformat(),
                today=today.isoformat(), slots=slots)


@router.get("/book/confirm")
async def confirm(request: Request) -> Response:
    session = await require_session(request)
    if not isinstance(session, sessions.Session):
        return session
    role, slot = request.query_params.get("role", ""), request.query_params.get("slot", "")
    doctor = await booking.doctor(request, session, role)
    proposed = await booking.offer(request, session, doctor["practitioner"], slot)
    if proposed is None:
        gone = booking.BookingFailed(409, "This time is no longer free.")
        return _failed(request, gone, f"/app/book/times?role={role}")
    # The key is made once per confirmation page: a resubmitted or retried form carries the same one.
    return page(request, "book_confirm.html", session=session, doctor=doctor, role=role, slot=slot,
                when=booking.local_time(request, proposed["start"]), key=random_token(16))


async def _already_mine(request: Request, session: sessions.Session, slot: str) -> str | None:
    """The id of my booked Appointment on ``slot`` (a retry after a booking that went through)."""
    answer = await api(request, session.access_token, "GET", "Appointment",
                       params={"slot": f"Slot/{slot}", "patient": f"Patient/{session.patient}", "status": "booked"})
    entries = answer.json().get("entry", []) if answer.status_code == 200 else []
    return str(entries[0]["resource"]["id"]) if entries else None


@router.post("/book")
async def book(request: Request) -> Response:
    session = await require_session(request)
    if not isinstance(session, sessions.Session):
        return session
    form = await checked_form(request)
    if form is None:
        return refused(request)
    role, slot, key = form.get("role", ""), form.get("slot", ""), form.get("key", "")
    retry = f"/app/book/times?role={role}"
    doctor = await booking.doctor(request, session, role)
    proposed = await booking.offer(request, session, doctor["practitioner"], slot)
    if proposed is None:
        mine = await _already_mine(request, session, slot)
        if mine:
            return RedirectResponse(f"/app/book/done?appointment={mine}", status_code=303)
        return _failed(request, booking.BookingFailed(409, "This time is no longer free."), retry)
    try:
        booked = await booking.book(request, session, proposed, key)
    except booking.BookingFailed as error:
        return _failed(request, error, retry)
    return RedirectResponse(f"/app/book/done?appointment={booked['id']}", status_code=303)


@router.get("/book/done")
async def done(request: Request) -> Response:
    session = await require_session(request)
    if not isinstance(session, sessions.Session):
        return session
    appointment_id = request.query_params.get("appointment", "")
    answer = await api(request, session.access_token, "GET", f"Appointment/{appointment_id}")
    if answer.status_code != 200:
        return page(request, "error.html", 404, title_key="not_found_title", text_key="not_found_text")
    appointment = answer.json()
    return page(request, "book_done.html", session=session, when=booking.local_time(request, appointment["start"]),
                booking_status=appointment["status"])


@router.post("/appointments/cancel")
async def cancel(request: Request) -> Response:
    session = await require_session(request)
    if not isinstance(session, sessions.Session):
        return session
    form = await checked_form(request)
    if form is None:
        return refused(request)
    try:
        await booking.cancel(request, session, form.get("appointment", ""))
    except booking.BookingFailed as error:
        return _failed(request, error, "/app/")
    return RedirectResponse("/app/?cancelled=1", status_code=303)
