-- AuditEvents submitted with a client-chosen id (PUT AuditEvent/<id> creating it, as the official
-- examples are stored) keep that id; the server's own records keep their uuids. The text form of
-- a uuid is unchanged, so the hash chain over row text still verifies.
ALTER TABLE audit_event ALTER COLUMN id TYPE text;
