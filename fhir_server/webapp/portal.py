"""The signed-in patient's start page: who they are and their appointments, read through the API."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from . import login, sessions
from .booking import local_time
from .fhir_api import api
from .render import page

__all__ = ["home"]


def _appointment_row(request: Request, resource: dict[str, Any]) -> dict[str, Any]:
    service = (resource.get("serviceType") or [{}])[0]
    what = service.get("text") or next((c.get("display") for c in service.get("coding", [])), None) \
        or resource.get("description") or ""
    start = resource.get("start")
    return {"id": resource["id"], "when": local_time(request, start) if start else "",
            "status": str(resource.get("status", "")), "what": str(what),
            "cancellable": resource.get("status") in ("pending", "booked")}


async def home(request: Request, session: sessions.Session) -> Response:
    if not session.patient:
        return page(request, "home.html", session=session, appointments=[])
    answer = await api(request, session.access_token, "GET", "Appointment",
                       params={"patient": f"Patient/{session.patient}", "_sort": "date", "_count": "50"})
    if answer.status_code == 401:  # revoked or expired at the server: sign in again, then come back
        await sessions.end(request.app.state.db, session.id)
        return login.to_login(request)
    answer.raise_for_status()
    rows = [_appointment_row(request, e["resource"]) for e in answer.json().get("entry", [])
            if e.get("resource", {}).get("resourceType") == "Appointment"]
    return page(request, "home.html", session=session, appointments=rows,
                cancelled=bool(request.query_params.get("cancelled")))
