-- Scheduling (fhir_server/scheduling/): the no-double-booking guarantee, kept by PostgreSQL.
-- http://hl7.org/fhir/R4/appointment.html, http://hl7.org/fhir/R4/slot.html
CREATE EXTENSION IF NOT EXISTS btree_gist;

-- The time an Appointment holds, one row per actor it occupies: each participant actor that is
-- not information-only (Patient included), and each Slot it uses ("Slot/<id>", over the Slot's
-- own range). Written by the Appointment write rule in the Appointment's own transaction.
-- ``share`` is the Appointment id, or "slot:<id>" for the rows of an overbooked Slot, so that
-- only the bookings of one overbooked Slot may share time (the ``share WITH <>`` term).
-- ``expires_at``: a $hold's expiry (NULL: held until the Appointment changes).
CREATE TABLE scheduling_busy (
    appointment_id text        NOT NULL,
    actor          text        NOT NULL,
    during         tstzrange   NOT NULL CHECK (NOT isempty(during)),
    share          text        NOT NULL,
    expires_at     timestamptz,
    CONSTRAINT scheduling_no_double_booking
        EXCLUDE USING gist (actor WITH =, during WITH &&, share WITH <>)
);
CREATE INDEX scheduling_busy_appointment ON scheduling_busy (appointment_id);
-- "Is this Slot held?" ($find, Slot writes) asks by actor alone.
CREATE INDEX scheduling_busy_actor ON scheduling_busy (actor);

-- Every live Slot with its range: two Slots of one Schedule never overlap, so generating Slots
-- twice (even concurrently) never makes duplicates. Written by the Slot write rule.
CREATE TABLE scheduling_slot (
    slot_id     text      PRIMARY KEY,
    schedule_id text      NOT NULL,
    during      tstzrange NOT NULL,
    CONSTRAINT scheduling_slot_overlap EXCLUDE USING gist (schedule_id WITH =, during WITH &&)
);

-- $book answers kept for retries with the same Idempotency-Key (per caller), for at least the
-- retention setting (FHIR_IDEMPOTENCY_HOURS, default 24).
CREATE TABLE scheduling_idempotency (
    key          text        PRIMARY KEY,
    request_hash text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    status       integer,
    body         bytea
);
CREATE INDEX scheduling_idempotency_age ON scheduling_idempotency (created_at);
