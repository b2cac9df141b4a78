-- The user (fhirUser) whose token kicked off an export: a job belongs to its client *and* its
-- user, so another user of the same client (a patient app's other patient) cannot poll,
-- download or cancel it. NULL for back-end (client_credentials) tokens, which have no user.
ALTER TABLE export_job ADD COLUMN user_ref text;
