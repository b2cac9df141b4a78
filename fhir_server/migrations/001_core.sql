-- Core storage: current versions, every version (history), a global write sequence.
-- http://hl7.org/fhir/R4/http.html#versioning

CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS btree_gist;

-- One number per write, across all types: orders _history and serves _since paging.
CREATE SEQUENCE fhir_txid_seq;

-- The current version of every resource ever written; a delete leaves a tombstone row
-- (deleted = true, content NULL) so read answers 410 and ids are never silently reused.
CREATE TABLE resource (
    resource_type text        NOT NULL,
    id            text        NOT NULL,
    version_id    integer     NOT NULL,
    txid          bigint      NOT NULL,
    last_updated  timestamptz NOT NULL,
    deleted       boolean     NOT NULL DEFAULT false,
    content       jsonb,
    PRIMARY KEY (resource_type, id)
);
CREATE INDEX resource_type_updated ON resource (resource_type, last_updated);

-- Every version, the current one included; content is NULL for a delete.
CREATE TABLE resource_history (
    resource_type text        NOT NULL,
    id            text        NOT NULL,
    version_id    integer     NOT NULL,
    txid          bigint      NOT NULL,
    last_updated  timestamptz NOT NULL,
    method        text        NOT NULL CHECK (method IN ('POST', 'PUT', 'PATCH', 'DELETE')),
    deleted       boolean     NOT NULL DEFAULT false,
    content       jsonb,
    PRIMARY KEY (resource_type, id, version_id)
);
CREATE UNIQUE INDEX resource_history_txid ON resource_history (txid);
CREATE INDEX resource_history_type_txid ON resource_history (resource_type, txid);
CREATE INDEX resource_history_updated ON resource_history (last_updated);
