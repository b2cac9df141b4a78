"""Build the demo data set: deterministic (a seeded generator per patient), clinically
coherent, with fixed ids so loading it twice changes nothing.

Vital signs follow the R4 vital signs profile (https://hl7.org/fhir/R4/observation-vitalsigns.html):
the LOINC code, UCUM units, category ``vital-signs``, blood pressure as a panel with systolic
and diastolic components. Blood pressure is higher before a hypertension is treated, BMI is
computed from the same visit's weight and height.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from .codes import (
    ALLERGIES,
    CONDITIONS,
    CVX,
    LOINC,
    MEDICATIONS,
    RXNORM,
    SNOMED,
    UCUM,
    VACCINES,
    VITALS,
    coding,
    concept,
)
from .narrative import with_narrative
from .people import CLINICIANS, DEPARTMENTS, HOSPITAL, PATIENTS, Clinician, DemoPatient

__all__ = ["demo_resources", "FIRST_YEAR", "LAST_YEAR"]

FIRST_YEAR, LAST_YEAR = 2023, 2026
VISIT_MONTHS = {1: (6,), 2: (3, 9), 4: (2, 5, 8, 11)}
TERMINOLOGY = "http://terminology.hl7.org/CodeSystem/"
VITAL_SIGNS = [{"coding": [coding(TERMINOLOGY + "observation-category", "vital-signs", "Vital Signs")]}]
# The ids the README, the tests and `make serve` name: Amy's last visit and what it records.
FIXED_IDS = {("demo-patient", "visit", "2026-11"): "demo-encounter", ("demo-patient", "bp", "2026-11"): "demo-bp",
             ("demo-patient", "cond", "hypertension"): "demo-condition",
             ("demo-patient", "med", "hypertension"): "demo-medrequest"}


def _ref(resource_type: str, rid: str, display: str | None = None) -> dict[str, Any]:
    return {"reference": f"{resource_type}/{rid}", **({"display": display} if display else {})}


def _id(patient: DemoPatient, kind: str, key: str) -> str:
    return FIXED_IDS.get((patient.id, kind, key), f"{patient.id}-{kind}-{key}")


def _instant(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _organizations() -> list[dict[str, Any]]:
    hospital_id, name, npi = HOSPITAL
    address = [{"line": ["1 Hospital Drive"], "city": "Springfield", "state": "IL", "postalCode": "62701",
                "country": "US"}]
    out: list[dict[str, Any]] = [{
        "resourceType": "Organization", "id": hospital_id, "active": True, "name": name,
        "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": npi}],
        "type": [concept(TERMINOLOGY + "organization-type", "prov", "Healthcare Provider")],
        "telecom": [{"system": "phone", "value": "+1-217-555-0100", "use": "work"}], "address": address}]
    for dept_id, (dept_name, _code, _display) in DEPARTMENTS.items():
        out.append({"resourceType": "Organization", "id": dept_id, "active": True, "name": dept_name,
                    "type": [concept(TERMINOLOGY + "organization-type", "dept", "Hospital Department")],
                    "partOf": _ref("Organization", hospital_id, name)})
    return out


def _display(c: Clinician) -> str:
    return " ".join(p for p in (c.prefix, c.given, c.family) if p)


def _clinicians() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for c in CLINICIANS:
        name: dict[str, Any] = {"use": "official", "family": c.family, "given": [c.given]}
        if c.prefix:
            name["prefix"] = [c.prefix]
        out.append({"resourceType": "Practitioner", "id": c.id, "active": True, "name": [name], "gender": c.gender,
                    "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": c.npi}]})
        dept_name, specialty, specialty_display = DEPARTMENTS[c.department]
        out.append({"resourceType": "PractitionerRole", "id": f"{c.id}-role", "active": True,
                    "practitioner": _ref("Practitioner", c.id, _display(c)),
                    "organization": _ref("Organization", c.department, dept_name),
                    "code": [concept(TERMINOLOGY + "practitioner-role", c.role, c.role.capitalize())],
                    "specialty": [concept(SNOMED, specialty, specialty_display)]})
    return out


def _patient(p: DemoPatient, number: int) -> dict[str, Any]:
    return {
        "resourceType": "Patient", "id": p.id, "active": True, "gender": p.gender, "birthDate": p.birth_date,
        "identifier": [{"use": "usual", "type": concept(TERMINOLOGY + "v2-0203", "MR", "Medical record number"),
                        "system": "http://hospital.example.org/mrn", "value": f"MRN-{number:04d}"}],
        "name": [{"use": "official", "family": p.family, "given": list(p.given)}],
        "telecom": [{"system": "phone", "value": f"+1-217-555-{1000 + number:04d}", "use": "home"}],
        "address": [{"use": "home", "line": [f"{10 + 7 * number} Elm Street"], "city": p.city, "state": "IL",
                     "postalCode": f"627{number:02d}", "country": "US"}],
        "managingOrganization": _ref("Organization", HOSPITAL[0], HOSPITAL[1]),
        "generalPractitioner": [_ref("Practitioner", CLINICIANS[0].id, _display(CLINICIANS[0]))]}


def _visits(p: DemoPatient, number: int) -> list[datetime]:
    day, minute = 2 + (number - 1) * 2, (number - 1) * 30
    return [datetime(year, month, day, 9, 0, tzinfo=UTC) + timedelta(minutes=minute)
            for year in range(FIRST_YEAR, LAST_YEAR + 1) for month in VISIT_MONTHS[p.visits_per_year]]


def _doctor(p: DemoPatient) -> Clinician:
    heart = any(key == "atrial-fibrillation" for key, _ in p.conditions)
    return CLINICIANS[1] if heart else CLINICIANS[0]


def _encounter(p: DemoPatient, rid: str, start: datetime) -> dict[str, Any]:
    doctor = _doctor(p)
    return {"resourceType": "Encounter", "id": rid, "status": "finished",
            "class": coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "AMB", "ambulatory"),
            "type": [concept(SNOMED, "185349003", "Encounter for check up")],
            "subject": _ref("Patient", p.id, _name(p)),
            "participant": [{"individual": _ref("Practitioner", doctor.id, _display(doctor))}],
            "period": {"start": _instant(start), "end": _instant(start + timedelta(minutes=30))},
            "serviceProvider": _ref("Organization", doctor.department, DEPARTMENTS[doctor.department][0])}


def _name(p: DemoPatient) -> str:
    return f"{p.given[0]} {p.family}"


def _quantity(value: float, unit: str, ucum: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": ucum}


def _vital(p: DemoPatient, rid: str, encounter: str, when: datetime, kind: str, **value: Any) -> dict[str, Any]:
    code, display, _unit = VITALS[kind]
    return {"resourceType": "Observation", "id": rid, "status": "final", "category": VITAL_SIGNS,
            "code": concept(LOINC, code, display), "subject": _ref("Patient", p.id, _name(p)),
            "encounter": _ref("Encounter", encounter), "effectiveDateTime": _instant(when),
            "performer": [_ref("Practitioner", CLINICIANS[2].id, _display(CLINICIANS[2]))], **value}


def _treated_from(p: DemoPatient, key: str) -> date | None:
    onset = dict(p.conditions).get(key)
    return date.fromisoformat(onset) + timedelta(days=30) if onset else None


def _blood_pressure(p: DemoPatient, when: datetime, rng: random.Random) -> tuple[int, int]:
    treated = _treated_from(p, "hypertension")
    if treated is None:
        systolic, diastolic = 116, 75
    elif when.date() < treated:
        systolic, diastolic = 146, 93  # untreated stage 2 hypertension
    else:
        systolic, diastolic = 129, 83
    return systolic + rng.randint(-6, 6), diastolic + rng.randint(-4, 4)


def _visit_vitals(p: DemoPatient, encounter: str, key: str, when: datetime, weight: float,
                  rng: random.Random) -> list[dict[str, Any]]:
    at = when + timedelta(minutes=10)
    height = round(p.height_cm + rng.uniform(-0.4, 0.4), 1)
    systolic, diastolic = _blood_pressure(p, when, rng)
    irregular = "atrial-fibrillation" in dict(p.conditions)
    rate = (86 if irregular else 70) + rng.randint(-8, 8)

    def ids(kind: str) -> str:
        return _id(p, kind, key) if (p.id, kind, key) in FIXED_IDS else f"{encounter}-{kind}"

    bp_code = {kind: VITALS[kind] for kind in ("systolic", "diastolic")}
    components = [{"code": concept(LOINC, bp_code[kind][0], bp_code[kind][1]),
                   "valueQuantity": _quantity(value, "mmHg", "mm[Hg]")}
                  for kind, value in (("systolic", systolic), ("diastolic", diastolic))]
    return [
        _vital(p, ids("weight"), encounter, at, "weight", valueQuantity=_quantity(weight, "kg", "kg")),
        _vital(p, ids("height"), encounter, at, "height", valueQuantity=_quantity(height, "cm", "cm")),
        _vital(p, ids("bmi"), encounter, at, "bmi",
               valueQuantity=_quantity(round(weight / (height / 100) ** 2, 1), "kg/m2", "kg/m2")),
        _vital(p, ids("bp"), encounter, at, "bp", component=components),
        _vital(p, ids("heart-rate"), encounter, at, "heart-rate",
               valueQuantity=_quantity(rate, "beats/minute", "/min")),
    ]


def _history(p: DemoPatient, number: int) -> list[dict[str, Any]]:
    """Encounters with their vital signs; weight drifts slowly from visit to visit."""
    rng = random.Random(number)
    weight, out = p.weight_kg, []
    for when in _visits(p, number):
        key = when.strftime("%Y-%m")
        encounter = _id(p, "visit", key)
        out.append(_encounter(p, encounter, when))
        out.extend(_visit_vitals(p, encounter, key, when, round(weight + rng.uniform(-0.8, 0.8), 1), rng))
        weight += rng.uniform(-0.6, 0.5)
    return out


def _problems(p: DemoPatient) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    doctor = _doctor(p)
    for key, onset in p.conditions:
        code, display = CONDITIONS[key]
        out.append({"resourceType": "Condition", "id": _id(p, "cond", key),
                    "clinicalStatus": concept(TERMINOLOGY + "condition-clinical", "active", "Active"),
                    "verificationStatus": concept(TERMINOLOGY + "condition-ver-status", "confirmed", "Confirmed"),
                    "category": [concept(TERMINOLOGY + "condition-category", "problem-list-item",
                                         "Problem List Item")],
                    "code": concept(SNOMED, code, display), "subject": _ref("Patient", p.id, _name(p)),
                    "onsetDateTime": onset, "recordedDate": onset,
                    "recorder": _ref("Practitioner", doctor.id, _display(doctor))})
        if key in MEDICATIONS:
            rx, rx_display, dosage = MEDICATIONS[key]
            out.append({"resourceType": "MedicationRequest", "id": _id(p, "med", key), "status": "active",
                        "intent": "order", "medicationCodeableConcept": concept(RXNORM, rx, rx_display),
                        "subject": _ref("Patient", p.id, _name(p)),
                        "requester": _ref("Practitioner", doctor.id, _display(doctor)),
                        "authoredOn": str(_treated_from(p, key)),
                        "reasonReference": [_ref("Condition", _id(p, "cond", key), display)],
                        "dosageInstruction": [{"text": dosage}]})
    return out


def _allergies(p: DemoPatient) -> list[dict[str, Any]]:
    out = []
    for key in p.allergies:
        code, display, category = ALLERGIES[key]
        allergy: dict[str, Any] = {
            "resourceType": "AllergyIntolerance", "id": _id(p, "allergy", key),
            "clinicalStatus": concept(TERMINOLOGY + "allergyintolerance-clinical", "active", "Active"),
            "verificationStatus": concept(TERMINOLOGY + "allergyintolerance-verification", "confirmed", "Confirmed"),
            "type": "allergy", "category": [category], "criticality": "high" if category == "food" else "low",
            "code": concept(SNOMED, code, display), "patient": _ref("Patient", p.id, _name(p)),
            "recordedDate": f"{FIRST_YEAR}-01-15"}
        if key == "peanut":
            allergy["reaction"] = [{"manifestation": [concept(SNOMED, "39579001", "Anaphylaxis")],
                                    "severity": "severe"}]
        out.append(allergy)
    return out


def _vaccines_for(p: DemoPatient, year: int) -> list[str]:
    born = int(p.birth_date[:4])
    return (["influenza"] + (["td"] if year == 2024 and born % 10 == 0 else [])
            + (["pcv13"] if year == 2023 and born < 1960 else []) + (["zoster"] if year == 2025 and born < 1975
                                                                        else []))


def _immunizations(p: DemoPatient, number: int) -> list[dict[str, Any]]:
    out = []
    for year in range(FIRST_YEAR, LAST_YEAR + 1):
        for key in _vaccines_for(p, year):
            code, display = VACCINES[key]
            given = datetime(year, 10, 1 + number, 11, 0, tzinfo=UTC)
            out.append({"resourceType": "Immunization", "id": _id(p, "imm", f"{key}-{year}"), "status": "completed",
                        "vaccineCode": concept(CVX, code, display), "patient": _ref("Patient", p.id, _name(p)),
                        "occurrenceDateTime": _instant(given), "primarySource": True,
                        "performer": [{"actor": _ref("Practitioner", CLINICIANS[2].id, _display(CLINICIANS[2]))}]})
    return out


def _appointment() -> dict[str, Any]:
    amy, doctor = PATIENTS[0], CLINICIANS[0]
    return {"resourceType": "Appointment", "id": "demo-appointment", "status": "booked",
            "serviceType": [concept(SNOMED, "394802001", "General medicine")],
            "start": "2027-01-12T10:00:00+00:00", "end": "2027-01-12T10:20:00+00:00",
            "participant": [{"actor": _ref("Patient", amy.id, _name(amy)), "status": "accepted"},
                            {"actor": _ref("Practitioner", doctor.id, _display(doctor)), "status": "accepted"}]}


def demo_resources() -> list[dict[str, Any]]:
    """Every demo resource, referenced resources before those that reference them."""
    out = [*_organizations(), *_clinicians()]
    for number, p in enumerate(PATIENTS, start=1):
        out.append(_patient(p, number))
    for number, p in enumerate(PATIENTS, start=1):
        out.extend([*_problems(p), *_allergies(p), *_history(p, number), *_immunizations(p, number)])
    out.append(_appointment())
    return [with_narrative(r) for r in out]
