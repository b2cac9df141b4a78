"""The signed-in patient's start page: who they are and their appointments, read through the API."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from . import login, sessions
from .fhir_api import api
from .render import page

__all__ = ["home"]


def _appointment_row(resource: dict[str, Any]) -> dict[str, str]:
    what = (resource.get("serviceType") or [{}])[0].get("text") or resource.get("description") or ""
    return {"when": str(resource.get("start", "")).replace("T", " ")[:16], "status": str(resource.get("status", "")),
            "what": str(what)}


async def home(request: Request, session: sessions.Session) -> Response:
    if not session.patient:
        return page(request, "home.html", session=session, appointments=[])
    answer = await api(request, session.access_token, "GET", "Appointment",
                       params={"patient": f"Patient/{session.patient}", "_sort": "date", "_count": "50"})
    if answer.status_code == 401:  # revoked or expired at the server: sign in again, then come back
        await sessions.end(request.app.state.db, session.id)
        return login.to_login(request)
    answer.raise_for_status()
    rows = [_appointment_row(e["resource"]) for e in answer.json().get("entry", [])
            if e.get("resource", {}).get("resourceType") == "Appointment"]
    return page(request, "home.html", session=session, appointments=rows)
