-- Files loaded by `fhir-server load`, by content hash, so a re-run skips them.
CREATE TABLE load_manifest (
    sha256     text        PRIMARY KEY,
    file_name  text        NOT NULL,
    resources  integer     NOT NULL,
    loaded_at  timestamptz NOT NULL DEFAULT now()
);
