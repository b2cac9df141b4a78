-- Append-only audit trail (AuditEvent resources shaped after IHE BALP), hash-chained.
-- Rows are inserted by the server; a sealer assigns chain_seq/prev_hash/hash afterwards in
-- commit order. The trigger forbids DELETE and any UPDATE other than that one-time sealing.
CREATE TABLE audit_event (
    seq           bigserial   PRIMARY KEY,
    id            uuid        NOT NULL UNIQUE,
    recorded      timestamptz NOT NULL,
    action        text        NOT NULL,   -- C R U D E
    subtype       text        NOT NULL,   -- restful interaction or operation name
    outcome       text        NOT NULL,   -- 0 success, 4 minor, 8 serious, 12 major failure
    client_id     text,
    user_ref      text,
    patient_refs  text[]      NOT NULL DEFAULT '{}',
    entity_refs   text[]      NOT NULL DEFAULT '{}',
    request_id    text,
    content       jsonb       NOT NULL,
    chain_seq     bigint      UNIQUE,
    prev_hash     bytea,
    hash          bytea
);
CREATE INDEX audit_event_recorded ON audit_event (recorded);
CREATE INDEX audit_event_patients ON audit_event USING gin (patient_refs);
CREATE INDEX audit_event_entities ON audit_event USING gin (entity_refs);
CREATE INDEX audit_event_user ON audit_event (user_ref);
CREATE INDEX audit_event_client ON audit_event (client_id);
CREATE INDEX audit_event_unsealed ON audit_event (seq) WHERE chain_seq IS NULL;

CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'TRUNCATE') THEN
        RAISE EXCEPTION 'audit_event is append-only: % refused', TG_OP;
    END IF;
    IF OLD.chain_seq IS NOT NULL
       OR NEW.seq <> OLD.seq OR NEW.id <> OLD.id OR NEW.recorded <> OLD.recorded
       OR NEW.content <> OLD.content OR NEW.action <> OLD.action OR NEW.subtype <> OLD.subtype
       OR NEW.outcome <> OLD.outcome OR NEW.patient_refs <> OLD.patient_refs
       OR NEW.entity_refs <> OLD.entity_refs
       OR NEW.client_id IS DISTINCT FROM OLD.client_id OR NEW.user_ref IS DISTINCT FROM OLD.user_ref
       OR NEW.request_id IS DISTINCT FROM OLD.request_id THEN
        RAISE EXCEPTION 'audit_event is append-only: only sealing an unsealed row is allowed';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();
-- TRUNCATE bypasses row triggers; forbid it too.
CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only();
