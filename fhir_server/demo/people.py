"""Who is in the demo hospital: the organization and its departments, the clinicians with
their roles, and ten patients with the problems, allergies and visit rhythm that shape
their records. Plain tables; ``generate`` turns them into FHIR resources."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["HOSPITAL", "DEPARTMENTS", "CLINICIANS", "PATIENTS", "Clinician", "DemoPatient"]

HOSPITAL = ("demo-hospital", "Demo General Hospital", "1234567893")
# department id -> (name, SNOMED CT practice setting code, display)
DEPARTMENTS = {
    "demo-dept-medicine": ("Department of General Medicine", "394802001", "General medicine"),
    "demo-dept-cardiology": ("Department of Cardiology", "394579002", "Cardiology"),
}


@dataclass(frozen=True)
class Clinician:
    id: str
    prefix: str
    given: str
    family: str
    gender: str
    npi: str
    role: str  # http://terminology.hl7.org/CodeSystem/practitioner-role
    department: str


CLINICIANS = [
    Clinician("demo-practitioner", "Dr.", "Adam", "Careful", "male", "1326060583", "doctor", "demo-dept-medicine"),
    Clinician("demo-cardiologist", "Dr.", "Priya", "Raman", "female", "1588667638", "doctor", "demo-dept-cardiology"),
    Clinician("demo-nurse", "", "Tom", "Okafor", "male", "1762543217", "nurse", "demo-dept-medicine"),
]


@dataclass(frozen=True)
class DemoPatient:
    id: str
    given: tuple[str, ...]
    family: str
    gender: str
    birth_date: str
    city: str
    conditions: tuple[tuple[str, str], ...]  # (condition key, onset date)
    allergies: tuple[str, ...]
    height_cm: float
    weight_kg: float  # at the first visit
    visits_per_year: int


PATIENTS = [
    DemoPatient("demo-patient", ("Amy", "V."), "Shaw", "female", "1987-02-20", "Springfield",
                (("hypertension", "2024-05-01"), ("asthma", "2009-03-14")), ("peanut",), 165.0, 71.0, 4),
    DemoPatient("demo-patient-02", ("Bruno",), "Keller", "male", "1958-07-03", "Springfield",
                (("diabetes", "2015-10-20"), ("hyperlipidemia", "2016-01-12"), ("hypertension", "2012-06-30")),
                (), 178.0, 96.0, 2),
    DemoPatient("demo-patient-03", ("Chen",), "Li", "female", "1972-11-28", "Shelbyville",
                (("hyperlipidemia", "2019-04-02"),), ("shellfish",), 160.0, 62.0, 1),
    DemoPatient("demo-patient-04", ("Dolores",), "Ortega", "female", "1946-05-09", "Springfield",
                (("atrial-fibrillation", "2020-02-17"), ("osteoarthritis-knee", "2017-09-01"),
                 ("hypertension", "2010-03-22")), (), 158.0, 68.0, 2),
    DemoPatient("demo-patient-05", ("Emeka",), "Nwosu", "male", "1990-08-15", "Capital City",
                (("chronic-sinusitis", "2021-12-05"),), ("tree-pollen", "dust-mite"), 183.0, 82.0, 1),
    DemoPatient("demo-patient-06", ("Fiona",), "MacLeod", "female", "2001-01-30", "Shelbyville",
                (("asthma", "2008-06-11"),), ("animal-dander",), 170.0, 58.0, 1),
    DemoPatient("demo-patient-07", ("Gustavo",), "Pereira", "male", "1965-03-19", "Capital City",
                (("prediabetes", "2022-08-08"),), (), 172.0, 88.0, 1),
    DemoPatient("demo-patient-08", ("Hana",), "Sato", "female", "1981-10-04", "Springfield", (), (), 157.0, 54.0, 1),
    DemoPatient("demo-patient-09", ("Ivan",), "Petrov", "male", "1952-12-24", "Springfield",
                (("atrial-fibrillation", "2018-05-14"), ("hyperlipidemia", "2014-02-03")), (), 176.0, 84.0, 2),
    DemoPatient("demo-patient-10", ("Julia",), "Schmidt", "female", "1995-06-21", "Capital City",
                (), ("peanut",), 168.0, 63.0, 1),
]
