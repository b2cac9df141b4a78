-- SMART on FHIR authorization server state (fhir_server/smart_auth/).
-- https://hl7.org/fhir/smart-app-launch/app-launch.html
-- Secrets are stored only as hashes (client secrets, refresh tokens, codes, launch ids,
-- pending-authorization ids); passwords as argon2id hashes.

-- Registered apps. auth_method: none (public), client_secret (symmetric), private_key_jwt.
CREATE TABLE smart_client (
    client_id     text        PRIMARY KEY,
    name          text        NOT NULL,
    auth_method   text        NOT NULL CHECK (auth_method IN ('none', 'client_secret', 'private_key_jwt')),
    secret_hash   text,
    jwks          jsonb,
    jwks_url      text,
    redirect_uris text[]      NOT NULL DEFAULT '{}',
    scope         text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((auth_method = 'client_secret') = (secret_hash IS NOT NULL)),
    CHECK (auth_method <> 'private_key_jwt' OR jwks IS NOT NULL OR jwks_url IS NOT NULL)
);

-- People who log in on the authorization pages, each linked to a FHIR resource.
CREATE TABLE smart_user (
    username      text        PRIMARY KEY,
    password_hash text        NOT NULL,
    fhir_user     text        NOT NULL CHECK (fhir_user ~ '^(Practitioner|Patient|RelatedPerson)/[A-Za-z0-9.-]{1,64}$'),
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- EHR launch contexts (`fhir-server launch add`): the opaque `launch` value maps to them.
CREATE TABLE smart_launch (
    launch_hash text        PRIMARY KEY,
    patient     text,
    encounter   text,
    fhir_user   text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);

-- Our signing keys. The newest non-retired key signs; every non-retired key verifies
-- and is published in the JWKS. The private key never leaves the database.
CREATE TABLE smart_signing_key (
    kid         text        PRIMARY KEY,
    alg         text        NOT NULL,
    private_pem text        NOT NULL,
    public_jwk  jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    retired_at  timestamptz
);

-- Server-side secrets that are not signing keys (the CSRF HMAC key).
CREATE TABLE smart_secret (
    name  text  PRIMARY KEY,
    value bytea NOT NULL
);

-- An authorization in progress between /auth/authorize and the code: bound to the
-- browser that started it (binding_hash = hash of a cookie) and short-lived.
CREATE TABLE smart_pending (
    id_hash      text        PRIMARY KEY,
    binding_hash text        NOT NULL,
    params       jsonb       NOT NULL,
    username     text        REFERENCES smart_user ON DELETE CASCADE,
    patient      text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);

-- One row per authorization decision (or per client_credentials issuance); every code
-- and token belongs to one, and revoking it revokes them all.
CREATE TABLE smart_grant (
    id         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    client_id  text        NOT NULL REFERENCES smart_client ON DELETE CASCADE,
    username   text        REFERENCES smart_user ON DELETE CASCADE,
    fhir_user  text,
    patient    text,
    encounter  text,
    scope      text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
CREATE INDEX smart_grant_client ON smart_grant (client_id);

CREATE TABLE smart_auth_code (
    code_hash             text        PRIMARY KEY,
    grant_id              uuid        NOT NULL REFERENCES smart_grant ON DELETE CASCADE,
    client_id             text        NOT NULL,
    redirect_uri          text        NOT NULL,
    scope                 text        NOT NULL,
    code_challenge        text        NOT NULL,
    code_challenge_method text        NOT NULL CHECK (code_challenge_method = 'S256'),
    nonce                 text,
    expires_at            timestamptz NOT NULL,
    used_at               timestamptz
);

-- Access tokens are JWTs; we keep their jti so revocation is checked on every use.
CREATE TABLE smart_access_token (
    jti        text        PRIMARY KEY,
    grant_id   uuid        NOT NULL REFERENCES smart_grant ON DELETE CASCADE,
    client_id  text        NOT NULL,
    scope      text        NOT NULL,
    issued_at  timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX smart_access_token_grant ON smart_access_token (grant_id);

-- Refresh tokens rotate: a used one keeps rotated_at, and presenting it again revokes the grant.
CREATE TABLE smart_refresh_token (
    token_hash text        PRIMARY KEY,
    grant_id   uuid        NOT NULL REFERENCES smart_grant ON DELETE CASCADE,
    client_id  text        NOT NULL,
    scope      text        NOT NULL,
    issued_at  timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    rotated_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX smart_refresh_token_grant ON smart_refresh_token (grant_id);

-- private_key_jwt assertion ids seen, kept until the assertion expires (replay defence).
CREATE TABLE smart_assertion_jti (
    client_id  text        NOT NULL,
    jti        text        NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (client_id, jti)
);
