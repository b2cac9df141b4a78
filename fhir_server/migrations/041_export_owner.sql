-- The client that kicked off an export: only it may poll, download or cancel (SMART Bulk Data:
-- the status and file URLs require the same client's access token).
ALTER TABLE export_job ADD COLUMN client_id text;
