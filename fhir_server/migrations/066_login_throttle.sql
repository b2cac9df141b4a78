-- Sign-in throttling and lockout (smart_auth/throttle.py), shared by every server process.
-- One row per account ('user:<name>') and per client address ('addr:<ip>'): failures in the
-- current window, consecutive failures since the last success, and when the key was locked.
CREATE TABLE smart_login_throttle (
    key               text        PRIMARY KEY,
    window_start      timestamptz NOT NULL DEFAULT now(),
    window_failures   integer     NOT NULL DEFAULT 0,
    consecutive       integer     NOT NULL DEFAULT 0,
    locked_at         timestamptz
);

-- A browser's session id (the cookie) is honoured only while a pending authorization is bound
-- to it (smart_auth/flow.py): that lookup is by binding.
CREATE INDEX smart_pending_binding ON smart_pending (binding_hash);
