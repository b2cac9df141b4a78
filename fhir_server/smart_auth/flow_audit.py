"""AuditEvents of the browser sign-in flow: authorization requests, logins (success, wrong
password, throttled, locked), patient choices and consent decisions (allowed or denied).

Shaped like the server's other records (IHE BALP, https://profiles.ihe.net/ITI/BALP/: type
``rest``, subtype the step, outcome 0 success or 4 refused) and written through the audit
trail's buffer after the step. The password is never recorded; a failed login names the
username that was tried (as ``outcomeDesc``) and, if it exists, its user.
"""

from __future__ import annotations

from starlette.requests import Request

from ..audit.trail import AuditEventDraft
from ..request_id import current_request_id

__all__ = ["record_step"]


def record_step(request: Request, step: str, ok: bool, *, client_id: str | None, user: str | None = None,
                patient: str | None = None, detail: str | None = None) -> None:
    trail = getattr(request.app.state, "audit", None)
    if trail is None:
        return
    address = request.client.host if request.client else None
    trail.record_later(AuditEventDraft(
        subtype=step, outcome="0" if ok else "4", outcome_desc=detail, client_id=client_id, user_ref=user,
        patients={f"Patient/{patient}"} if patient else set(), request_id=current_request_id(), address=address))
