"""What the authorization pages say, by who is signing in and how the app was launched.

A clinician in an EHR launch is not connecting "your health record": they let an app act as
them on a patient's chart. A patient shares their own record; a related person the record of
the person they care for. Returns HTML (every value escaped).
"""

from __future__ import annotations

import html

from .patient_card import PatientCard

__all__ = ["login_intro", "consent_intro", "patient_note", "CLINICIAN", "PATIENT", "RELATED"]

CLINICIAN, PATIENT, RELATED = "Practitioner", "Patient", "RelatedPerson"


def login_intro(client_name: str, hospital: str, ehr_launch: bool) -> str:
    app, place = f"<strong>{html.escape(client_name)}</strong>", html.escape(hospital)
    if ehr_launch:
        return f"{app} was opened from your EHR session. Sign in with your {place} account to continue."
    return f"{app} asks you to sign in with your {place} account."


def consent_intro(client_name: str, role: str, ehr_launch: bool, has_patient: bool) -> str:
    app = f"<strong>{html.escape(client_name)}</strong>"
    if role == PATIENT:
        return f"{app} asks to access your health record."
    if role == RELATED:
        return f"{app} asks to access the health record of the person you care for."
    if ehr_launch:
        return f"{app} asks to act for you on the chart of the patient open in your EHR session."
    if has_patient:
        return f"{app} asks to act for you on the chart of the patient you selected."
    return f"{app} asks to act for you on the records you can access as a clinician."


def patient_note(card: PatientCard | None) -> str:
    if card is None:
        return ""
    rest = html.escape(card.summary().split(" · ", 1)[1]) if " · " in card.summary() else ""
    tail = f" · {rest}" if rest else ""
    return f'<p class="patient">Patient: <strong>{html.escape(card.name or "Unnamed patient")}</strong>{tail}</p>'
