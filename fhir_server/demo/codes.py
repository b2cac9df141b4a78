"""The code tables of the demo data: LOINC vital signs with UCUM units (the R4 vital signs
profile, https://hl7.org/fhir/R4/observation-vitalsigns.html), SNOMED CT conditions and
allergies, RxNorm medications and CVX vaccines, each code with its display."""

from __future__ import annotations

from typing import Any

__all__ = ["LOINC", "SNOMED", "RXNORM", "CVX", "UCUM", "VITALS", "CONDITIONS", "MEDICATIONS", "ALLERGIES",
           "VACCINES", "coding", "concept"]

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CVX = "http://hl7.org/fhir/sid/cvx"
UCUM = "http://unitsofmeasure.org"

# vital sign -> (LOINC code, display, UCUM unit)
VITALS: dict[str, tuple[str, str, str]] = {
    "weight": ("29463-7", "Body weight", "kg"),
    "height": ("8302-2", "Body height", "cm"),
    "bmi": ("39156-5", "Body mass index (BMI) [Ratio]", "kg/m2"),
    "heart-rate": ("8867-4", "Heart rate", "/min"),
    "bp": ("85354-9", "Blood pressure panel with all children optional", ""),
    "systolic": ("8480-6", "Systolic blood pressure", "mm[Hg]"),
    "diastolic": ("8462-4", "Diastolic blood pressure", "mm[Hg]"),
}

# condition key -> (SNOMED CT code, display), and the medication that treats it (or None)
CONDITIONS: dict[str, tuple[str, str]] = {
    "hypertension": ("38341003", "Hypertension"),
    "diabetes": ("44054006", "Diabetes mellitus type 2"),
    "asthma": ("195967001", "Asthma"),
    "hyperlipidemia": ("55822004", "Hyperlipidemia"),
    "atrial-fibrillation": ("49436004", "Atrial fibrillation"),
    "osteoarthritis-knee": ("239873007", "Osteoarthritis of knee"),
    "prediabetes": ("15777000", "Prediabetes"),
    "chronic-sinusitis": ("40055000", "Chronic sinusitis"),
}

# condition key -> (RxNorm code, display, dosage text)
MEDICATIONS: dict[str, tuple[str, str, str]] = {
    "hypertension": ("314076", "lisinopril 10 MG Oral Tablet", "one tablet by mouth once daily"),
    "diabetes": ("860975", "24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet",
                 "one tablet by mouth once daily with the evening meal"),
    "asthma": ("895994", "120 ACTUAT fluticasone propionate 0.044 MG/ACTUAT Metered Dose Inhaler",
               "two puffs twice daily"),
    "hyperlipidemia": ("312961", "simvastatin 20 MG Oral Tablet", "one tablet by mouth every evening"),
    "atrial-fibrillation": ("855332", "warfarin sodium 5 MG Oral Tablet", "as directed by INR"),
    "osteoarthritis-knee": ("310965", "ibuprofen 200 MG Oral Tablet", "one to two tablets every 6 hours as needed"),
}

# allergy key -> (SNOMED CT code, display, category)
ALLERGIES: dict[str, tuple[str, str, str]] = {
    "peanut": ("91935009", "Allergy to peanuts", "food"),
    "shellfish": ("300913006", "Shellfish allergy", "food"),
    "tree-pollen": ("419263009", "Allergy to tree pollen", "environment"),
    "dust-mite": ("232350006", "House dust mite allergy", "environment"),
    "animal-dander": ("232347008", "Dander (animal) allergy", "environment"),
}

# vaccine key -> (CVX code, display)
VACCINES: dict[str, tuple[str, str]] = {
    "influenza": ("140", "Influenza, seasonal, injectable, preservative free"),
    "td": ("113", "Td (adult) preservative free"),
    "pcv13": ("133", "Pneumococcal conjugate PCV 13"),
    "zoster": ("121", "zoster"),
}


def coding(system: str, code: str, display: str) -> dict[str, Any]:
    return {"system": system, "code": code, "display": display}


def concept(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [coding(system, code, display)], "text": display}
