-- Admissions (fhir_server/admissions/): one active inpatient per bed, kept by PostgreSQL.
-- http://hl7.org/fhir/R4/encounter.html, http://hl7.org/fhir/R4/location.html
-- One row per bed an inpatient Encounter (class IMP, in-progress or onleave) holds through an
-- active Encounter.location. Written by the Encounter write rule in the Encounter's own
-- transaction; the primary key makes a second admission to the same bed a 409, whichever path
-- or race it comes from. An Encounter holds at most one bed (the unique encounter_id).
CREATE TABLE admissions_bed_occupancy (
    bed_id       text        CONSTRAINT admissions_bed_taken PRIMARY KEY,
    encounter_id text        NOT NULL CONSTRAINT admissions_one_bed_per_encounter UNIQUE,
    since        timestamptz NOT NULL DEFAULT now()
);
