-- Bulk Data $export jobs and their NDJSON output, kept in PostgreSQL so jobs survive a restart
-- and any server process can answer polls and downloads.
CREATE TABLE export_job (
    id               uuid        PRIMARY KEY,
    status           text        NOT NULL CHECK (status IN ('pending', 'running', 'complete', 'failed', 'cancelled')),
    level            text        NOT NULL,           -- system | patient | group
    group_id         text,
    request_url      text        NOT NULL,
    params           jsonb       NOT NULL,
    transaction_time timestamptz NOT NULL,
    progress         text,
    error            text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    heartbeat        timestamptz,
    finished_at      timestamptz
);
CREATE INDEX export_job_pending ON export_job (created_at) WHERE status = 'pending';

CREATE TABLE export_file (
    job_id        uuid    NOT NULL REFERENCES export_job (id) ON DELETE CASCADE,
    file_no       integer NOT NULL,
    resource_type text    NOT NULL,
    kind          text    NOT NULL DEFAULT 'output' CHECK (kind IN ('output', 'error')),
    line_count    integer NOT NULL,
    content       bytea   NOT NULL,  -- NDJSON, gzip-compressed
    PRIMARY KEY (job_id, file_no)
);
