-- The request journal: every dialect request of a tenant, redacted, newest by seq.
CREATE TABLE request_journal (
    id uuid PRIMARY KEY,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    at timestamptz NOT NULL,
    dialect text NOT NULL,
    operation text,
    method text NOT NULL,
    path text NOT NULL,
    route text,
    query text,
    request_id text,
    request_headers jsonb NOT NULL DEFAULT '{}',
    request_body text,
    request_body_size bigint NOT NULL DEFAULT 0,
    status integer NOT NULL,
    response_headers jsonb NOT NULL DEFAULT '{}',
    response_body text,
    response_body_size bigint NOT NULL DEFAULT 0,
    duration_us bigint NOT NULL DEFAULT 0
);

CREATE UNIQUE INDEX request_journal_tenant_seq ON request_journal (tenant_id, seq);
