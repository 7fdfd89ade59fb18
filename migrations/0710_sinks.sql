-- Carrier sinks: the tenant's webhook secret and the webhook delivery log.
--
-- The secret signs webhook bodies (HMAC-SHA256), so it is kept as is, like the server's
-- own shared secrets (`server_secrets`); it is shown once to the operator, when it is
-- generated or rotated. A tenant reset keeps it (it is configuration, like credentials).
CREATE TABLE webhook_secrets (
    tenant_id  uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    secret     text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- One row per try of one webhook delivery (a `webhook_delivery` job): the HTTP status
-- the receiver answered, or the error when there was no answer. `try` is the job's
-- attempt (1 = first try). `started_at`/`ended_at` are on the tenant clock.
CREATE TABLE webhook_deliveries (
    id          uuid PRIMARY KEY,
    seq         bigint GENERATED ALWAYS AS IDENTITY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    job_id      uuid,
    attempt_id  uuid,
    url         text NOT NULL,
    try         integer NOT NULL,
    status_code integer,
    error       text,
    ok          boolean NOT NULL,
    duration_ms bigint NOT NULL DEFAULT 0,
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz NOT NULL
);

CREATE INDEX webhook_deliveries_newest ON webhook_deliveries (tenant_id, seq DESC);
