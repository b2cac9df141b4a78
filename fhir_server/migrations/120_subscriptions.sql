-- Subscriptions (fhir_server/subscriptions/): a transactional outbox fed by the history table.
-- http://hl7.org/fhir/R4/subscription.html

-- The delivery state of each Subscription, kept by its write rule (rules.py) in the write's transaction.
CREATE TABLE subscription_state (
    id                 text        PRIMARY KEY,           -- Subscription.id
    status             text        NOT NULL CHECK (status IN ('requested', 'active', 'error', 'off')),
    resource_type      text        NOT NULL,              -- the type the criteria search
    criteria           text        NOT NULL,              -- the query part of Subscription.criteria
    topic              text,                              -- backport: the SubscriptionTopic canonical
    channel            jsonb       NOT NULL,              -- type, endpoint, headers, payload, content
    owner              jsonb       NOT NULL,              -- the creating token's scopes and patient context
    start_txid         bigint      NOT NULL,              -- changes after this write are notified
    events_since_start bigint      NOT NULL DEFAULT 0,    -- the last event number given out
    failures           integer     NOT NULL DEFAULT 0,    -- consecutive failed deliveries
    last_error         text,
    next_attempt_at    timestamptz NOT NULL DEFAULT now(),
    heartbeat_seconds  integer,
    last_sent_at       timestamptz
);
CREATE INDEX subscription_state_type ON subscription_state (resource_type) WHERE status <> 'off';

-- Types with at least one live subscription: the history trigger's one-probe check, so a write of an
-- unsubscribed type pays a single primary-key lookup.
CREATE TABLE subscribed_type (resource_type text PRIMARY KEY);

-- Committed-or-not changes of subscribed types, appended by the trigger in the writer's transaction
-- (rolled back with it). xid orders visibility: the matcher consumes a row only once every transaction
-- with a smaller xid has ended (xid < pg_snapshot_xmin), so no earlier change can still appear.
CREATE TABLE subscription_change (
    seq           bigserial PRIMARY KEY,
    xid           xid8      NOT NULL DEFAULT pg_current_xact_id(),
    resource_type text      NOT NULL,
    id            text      NOT NULL,
    version_id    integer   NOT NULL,
    txid          bigint    NOT NULL,
    deleted       boolean   NOT NULL
);

-- The outbox: one row per (subscription, event number); delivered_at NULL until the endpoint took it.
CREATE TABLE subscription_event (
    subscription_id text        NOT NULL REFERENCES subscription_state (id) ON DELETE CASCADE,
    event_number    bigint      NOT NULL,
    resource_type   text        NOT NULL,
    resource_id     text        NOT NULL,
    version_id      integer     NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer     NOT NULL DEFAULT 0,
    delivered_at    timestamptz,
    PRIMARY KEY (subscription_id, event_number)
);
CREATE INDEX subscription_event_pending ON subscription_event (subscription_id, event_number)
    WHERE delivered_at IS NULL;

CREATE FUNCTION subscription_capture() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM subscribed_type WHERE resource_type = NEW.resource_type) THEN
        INSERT INTO subscription_change (resource_type, id, version_id, txid, deleted)
        VALUES (NEW.resource_type, NEW.id, NEW.version_id, NEW.txid, NEW.deleted);
        PERFORM pg_notify('fhir_subscription', '');  -- delivered at commit, never for a rollback
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER resource_history_subscription AFTER INSERT ON resource_history
    FOR EACH ROW EXECUTE FUNCTION subscription_capture();
