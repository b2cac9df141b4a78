-- The hospital app's sessions (fhir_server/webapp/): a backend-for-frontend keeps the user's
-- tokens here, on the server; the browser holds only a random session id in an HttpOnly cookie,
-- stored as its SHA-256 (a leaked table row cannot be replayed as a cookie).
-- Before sign-in a row carries the OAuth state and PKCE verifier of the pending login and the
-- app path to return to; after it, the access token, its grant's refresh token and who it is.
CREATE TABLE webapp_session (
    id_hash       text        PRIMARY KEY,
    oauth_state   text,
    code_verifier text,
    return_to     text        NOT NULL DEFAULT '/app/',
    access_token  text,
    refresh_token text,
    token_expires timestamptz,
    fhir_user     text,
    patient       text,
    display       text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);
CREATE INDEX webapp_session_expires ON webapp_session (expires_at);
