-- The audit chain becomes keyed (audit/keyring.py): each row carries the writer MAC the server
-- computed with a key kept outside the database, and each chain link says whether it is an
-- HMAC link (keyed) or one of the SHA-256 links sealed before this migration. Those older links
-- stay verifiable as they were (their rows have no MAC); they prove only internal consistency.
ALTER TABLE audit_event ADD COLUMN mac bytea;
ALTER TABLE audit_chain ADD COLUMN keyed boolean NOT NULL DEFAULT false;
