-- Claims (fhir_server/claims/): idempotent submission and deductibles, kept by PostgreSQL.
-- http://hl7.org/fhir/R4/claim.html, http://hl7.org/fhir/R4/claimresponse.html

-- One Claim per business identifier ("system|value"): written by the Claim write rule on every
-- path (REST, PATCH, bundles, load, $submit), so two Claims can never share an identifier.
CREATE TABLE claims_identifier (
    identifier text NOT NULL CONSTRAINT claims_identifier_taken PRIMARY KEY,
    claim_id   text NOT NULL
);
CREATE INDEX claims_identifier_claim ON claims_identifier (claim_id);

-- What $submit answered for a Claim: an identical re-submission returns this ClaimResponse.
-- ``request_hash``: the Claim as submitted (without id/meta), to tell a re-submission from a
-- different Claim that reuses an identifier.
CREATE TABLE claims_submission (
    claim_id          text PRIMARY KEY,
    request_hash      text NOT NULL,
    claim_response_id text NOT NULL,
    submitted_at      timestamptz NOT NULL DEFAULT now()
);

-- The deductible met per Coverage and plan year: read FOR UPDATE by each adjudication, so two
-- concurrent claims of one Coverage never both use the same remaining deductible.
CREATE TABLE claims_deductible (
    coverage_id text    NOT NULL,
    plan_year   integer NOT NULL,
    met         numeric NOT NULL DEFAULT 0 CHECK (met >= 0),
    PRIMARY KEY (coverage_id, plan_year)
);
