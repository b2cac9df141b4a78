-- Online payments (fhir_server/billing/payments/online.py, webhook.py): one row per provider
-- payment (a Stripe PaymentIntent) started for an Invoice, and each provider event id seen once
-- (a re-delivered webhook finds its id and records nothing twice).
CREATE TABLE billing_intent (
    intent_id  text          PRIMARY KEY,
    provider   text          NOT NULL,
    invoice_id text          NOT NULL,
    amount     numeric(14,2) NOT NULL CHECK (amount > 0),
    currency   text          NOT NULL,
    status     text          NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'cancelled')),
    created_at timestamptz   NOT NULL DEFAULT now()
);
CREATE INDEX billing_intent_invoice ON billing_intent (invoice_id);

CREATE TABLE billing_webhook_event (
    event_id    text        PRIMARY KEY,
    provider    text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
