-- Billing payments (fhir_server/billing/payments/): one row per payment of an Invoice, the money
-- side of its PaymentReconciliation. A payment is recorded once per provider reference (unique),
-- and a retried request (Idempotency-Key, billing_idempotency) answers the stored first response.
CREATE TABLE billing_payment (
    id           text          PRIMARY KEY,          -- = the PaymentReconciliation id
    invoice_id   text          NOT NULL,
    provider     text          NOT NULL,             -- 'desk' (cash, card at the desk)
    provider_ref text          NOT NULL,
    method       text          NOT NULL,
    amount       numeric(14,2) NOT NULL CHECK (amount > 0),
    currency     text          NOT NULL,
    status       text          NOT NULL CHECK (status IN ('succeeded', 'refunded')),
    created_at   timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT billing_payment_once UNIQUE (provider, provider_ref)
);
CREATE INDEX billing_payment_invoice ON billing_payment (invoice_id);

CREATE TABLE billing_idempotency (
    key          text        PRIMARY KEY,
    request_hash text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    status       integer,
    body         bytea
);
CREATE INDEX billing_idempotency_age ON billing_idempotency (created_at);
