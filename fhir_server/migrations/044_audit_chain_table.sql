-- The hash chain moves out of audit_event into its own insert-only table, and unsealed rows are
-- found through a small queue. Sealing used to UPDATE every audit row once: a second heap tuple
-- and new entries in all nine of its indexes (two of them GIN) per audited request, which was
-- as much database work as the audit insert itself. audit_event is now strictly append-only.
CREATE TABLE audit_chain (
    chain_seq  bigint PRIMARY KEY,
    seq        bigint NOT NULL UNIQUE,   -- the audit_event row this link seals
    prev_hash  bytea  NOT NULL,
    hash       bytea  NOT NULL
);
INSERT INTO audit_chain (chain_seq, seq, prev_hash, hash)
    SELECT chain_seq, seq, prev_hash, hash FROM audit_event WHERE chain_seq IS NOT NULL;

-- Rows waiting for the sealer; filled by a statement-level trigger (one INSERT per statement,
-- whether the audit rows came from an INSERT or a COPY batch), emptied by the sealer.
CREATE TABLE audit_unsealed (seq bigint PRIMARY KEY);
INSERT INTO audit_unsealed (seq) SELECT seq FROM audit_event WHERE chain_seq IS NULL;

CREATE FUNCTION audit_event_queue_unsealed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_unsealed (seq) SELECT seq FROM new_rows;
    RETURN NULL;
END $$;
CREATE TRIGGER audit_event_queue_unsealed AFTER INSERT ON audit_event
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION audit_event_queue_unsealed();

-- No UPDATE of audit_event at all any more (sealing no longer writes it).
CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END $$;
CREATE TRIGGER audit_chain_append_only BEFORE UPDATE OR DELETE ON audit_chain
    FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();
CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON audit_chain
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only();

DROP INDEX audit_event_unsealed;
ALTER TABLE audit_event DROP COLUMN chain_seq, DROP COLUMN prev_hash, DROP COLUMN hash;
