-- Insurer access (fhir_server/claims/, README "Claims"): a Backend Services client bound to the
-- insurer Organization it acts for. Its system/ tokens see (and write) only the Claim, ClaimResponse,
-- ExplanationOfBenefit and CoverageEligibilityRequest/Response resources whose ``insurer`` is that
-- Organization (smart_auth/insurer_rows.py). Removing the client removes the binding.
CREATE TABLE smart_client_organization (
    client_id       text NOT NULL PRIMARY KEY REFERENCES smart_client (client_id) ON DELETE CASCADE,
    organization_id text NOT NULL CHECK (organization_id ~ '^[A-Za-z0-9.-]{1,64}$')
);
