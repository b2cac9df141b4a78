"""Hospital admissions on FHIR R4 (issue 15): the Encounter status machine, bed occupancy kept by
PostgreSQL, the department tree (Organization.partOf without cycles) and the triage queue.
The write rules live in ``rules.py`` (docs/rules.md); the README section "Hospital operations —
admissions" walks through them.
"""
