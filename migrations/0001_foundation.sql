-- The one shared domain of switchboard. Every tenant table carries tenant_id and leads
-- its keys with it. Vendor-specific extras live in `attrs jsonb`; dialect migrations may
-- add columns, never per-dialect copies of shared things.

CREATE TABLE tenants (
    id uuid PRIMARY KEY,
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    slug text NOT NULL UNIQUE,
    name text NOT NULL,
    settings jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- virtual clock: now = clock_frozen_at if set, else real now + clock_offset_seconds
    clock_offset_seconds bigint NOT NULL DEFAULT 0,
    clock_frozen_at timestamptz,
    -- bumped by a per-tenant reset; jobs remember the epoch they started in
    epoch bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Credentials of every dialect, argon2id-hashed.
--   kind: onc | leads | campaign_manager | apps | leads_api_key
--   login_key: what identifies the credential at login (unique per kind):
--     onc "<accountId>/<username>", leads "<slug>/<username>", campaign_manager "<AC sid>",
--     apps "<slug>", leads_api_key "<sha256 hex of the key>"
CREATE TABLE credentials (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind text NOT NULL,
    login_key text NOT NULL,
    username text,
    account_id text,
    secret_hash text NOT NULL,
    name text,
    attrs jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    UNIQUE (kind, login_key)
);
CREATE INDEX credentials_tenant ON credentials (tenant_id, kind);

-- ONC sessions and Leads refresh tokens: server-side sessions, found by token digest.
CREATE TABLE auth_sessions (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind text NOT NULL,                 -- onc_session | leads_refresh
    token_digest text NOT NULL UNIQUE,  -- sha256 hex of the token
    credential_id uuid REFERENCES credentials(id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at timestamptz,
    created_at timestamptz NOT NULL
);
CREATE INDEX auth_sessions_tenant ON auth_sessions (tenant_id, kind);

-- Directory --------------------------------------------------------------------------
CREATE TABLE agents (
    id uuid PRIMARY KEY,
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    email text NOT NULL,
    first_name text NOT NULL DEFAULT '',
    last_name text NOT NULL DEFAULT '',
    agent_number text,
    extension text,
    status text NOT NULL DEFAULT 'available',   -- available | unavailable
    can_call boolean NOT NULL DEFAULT true,
    logged_in boolean NOT NULL DEFAULT true,
    on_call boolean NOT NULL DEFAULT false,
    attrs jsonb NOT NULL DEFAULT '{}'::jsonb,   -- roles, teams, location, limits …
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX agents_email ON agents (tenant_id, lower(email));

CREATE TABLE menus (
    id uuid PRIMARY KEY,
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    parent_id uuid REFERENCES menus(id) ON DELETE SET NULL,
    name text NOT NULL,
    menu_type text NOT NULL,                    -- ivr_menu | mobile_menu | web_menu
    languages text[] NOT NULL DEFAULT '{en}',
    state text NOT NULL DEFAULT 'open',         -- open | after_hours | manual_redirection
    channels text[] NOT NULL DEFAULT '{voice_call}',
    wait_seconds integer,
    attrs jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX menus_tenant ON menus (tenant_id, seq);

CREATE TABLE queues (
    id uuid PRIMARY KEY,
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name text NOT NULL,
    extension text,
    strategy text NOT NULL DEFAULT 'round_robin',
    max_time_caller_in_queue integer NOT NULL DEFAULT 300,
    attrs jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX queues_tenant ON queues (tenant_id, seq);

CREATE TABLE queue_agents (
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    queue_id uuid NOT NULL REFERENCES queues(id) ON DELETE CASCADE,
    agent_id uuid NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    PRIMARY KEY (tenant_id, queue_id, agent_id)
);

CREATE TABLE phone_numbers (
    id uuid PRIMARY KEY,
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    number text NOT NULL,                       -- E.164
    sms boolean NOT NULL DEFAULT true,
    voice boolean NOT NULL DEFAULT true,
    default_outbound boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, number)
);

-- Campaigns and contacts ----------------------------------------------------------------
-- status: draft | scheduled | running | paused | completed | failed | cancelled
-- kind:   outbound_dialer | leads | sms | voice | onc
CREATE TABLE campaigns (
    id uuid PRIMARY KEY,
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name text NOT NULL,
    kind text NOT NULL,
    status text NOT NULL DEFAULT 'draft',
    channel text,                               -- sms | voice | email | mixed
    starts_at timestamptz,
    ends_at timestamptz,
    attrs jsonb NOT NULL DEFAULT '{}'::jsonb,
    deleted_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX campaigns_tenant ON campaigns (tenant_id, seq);
CREATE INDEX campaigns_due ON campaigns (status, starts_at) WHERE deleted_at IS NULL;

-- The shared per-contact state (dialects map it, see each dialect's table):
--   pending | dialing | queued | connected | completed | transferred | no_answer |
--   unreachable | abandoned | skipped | invalid_number | failed | voicemail |
--   callback | dnc | cancelled
CREATE TABLE contacts (
    id uuid PRIMARY KEY,
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    campaign_id uuid NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    number text,                                -- E.164
    original_number text,
    email text,
    name text,
    first_name text,
    last_name text,
    external_id text,
    outbound_number text,
    status text NOT NULL DEFAULT 'pending',
    priority integer NOT NULL DEFAULT 0,
    max_retries integer NOT NULL DEFAULT 0,
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    attrs jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX contacts_campaign ON contacts (tenant_id, campaign_id, seq);
CREATE INDEX contacts_number ON contacts (tenant_id, campaign_id, number);
CREATE INDEX contacts_pending ON contacts (campaign_id, status) WHERE status = 'pending';

-- Credits: a ledger; the balance is the sum. Debits are negative.
CREATE TABLE credit_ledger (
    id uuid PRIMARY KEY,
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    amount bigint NOT NULL,
    kind text NOT NULL,                         -- credit | debit
    description text NOT NULL DEFAULT '',
    campaign_id uuid REFERENCES campaigns(id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX credit_ledger_tenant ON credit_ledger (tenant_id, created_at);

-- Suppression: opt-out (by channel), company DNC, named opt-in lists.
CREATE TABLE suppressions (
    id uuid PRIMARY KEY,
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    list text NOT NULL,                         -- opt_out | dnc | opt_in
    list_name text NOT NULL DEFAULT '',         -- opt-in list name ('' for the others)
    number text NOT NULL,                       -- E.164
    original text NOT NULL DEFAULT '',
    channels text[] NOT NULL DEFAULT '{sms,voice,email}',
    source text NOT NULL DEFAULT 'admin',
    expires_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (tenant_id, list, list_name, number)
);
CREATE INDEX suppressions_lookup ON suppressions (tenant_id, number);

-- Stored files (uploads, announcement audio), chunked so nothing needs to fit in memory.
CREATE TABLE blobs (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    filename text,
    content_type text,
    size bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE blob_chunks (
    blob_id uuid NOT NULL REFERENCES blobs(id) ON DELETE CASCADE,
    n integer NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (blob_id, n)
);

-- Async work, claimed with FOR UPDATE SKIP LOCKED.
-- status: queued | running | completed | failed | cancelled (dialects may keep their own
-- finer state in `state`)
CREATE TABLE jobs (
    id uuid PRIMARY KEY,
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind text NOT NULL,
    status text NOT NULL DEFAULT 'queued',
    state text,
    epoch bigint NOT NULL DEFAULT 0,
    payload jsonb NOT NULL DEFAULT '{}'::jsonb,
    progress jsonb NOT NULL DEFAULT '{}'::jsonb,
    result jsonb,
    error text,
    blob_id uuid REFERENCES blobs(id) ON DELETE SET NULL,
    campaign_id uuid REFERENCES campaigns(id) ON DELETE CASCADE,
    attempts integer NOT NULL DEFAULT 0,
    run_at timestamptz NOT NULL DEFAULT now(),
    locked_by text,
    locked_until timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX jobs_claim ON jobs (run_at) WHERE status IN ('queued', 'running');
CREATE INDEX jobs_tenant ON jobs (tenant_id, kind, seq);

-- Interactions: calls and SMS sessions, whatever dialect made them.
CREATE TABLE interactions (
    id uuid PRIMARY KEY,
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind text NOT NULL,                         -- call | sms
    direction text NOT NULL DEFAULT 'outbound', -- outbound | inbound | scheduled
    status text NOT NULL,
    agent_id uuid REFERENCES agents(id) ON DELETE SET NULL,
    menu_id uuid REFERENCES menus(id) ON DELETE SET NULL,
    campaign_id uuid REFERENCES campaigns(id) ON DELETE SET NULL,
    contact_id uuid REFERENCES contacts(id) ON DELETE SET NULL,
    end_user_number text,
    outbound_number text,
    scheduled_at timestamptz,
    ended_at timestamptz,
    attrs jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX interactions_tenant ON interactions (tenant_id, kind, seq);

-- Timeline of what happened (dial attempts, status changes, dispositions).
CREATE TABLE events (
    id uuid PRIMARY KEY,
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind text NOT NULL,
    campaign_id uuid REFERENCES campaigns(id) ON DELETE CASCADE,
    contact_id uuid REFERENCES contacts(id) ON DELETE CASCADE,
    interaction_id uuid REFERENCES interactions(id) ON DELETE CASCADE,
    data jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL
);
CREATE INDEX events_tenant ON events (tenant_id, created_at DESC, seq DESC);

-- CRM contact data posted for calls.
CREATE TABLE crm_records (
    id uuid PRIMARY KEY,
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    call_ref text,
    data jsonb NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX crm_records_tenant ON crm_records (tenant_id, call_ref);

-- Outbox: what the simulated carrier "sent".
CREATE TABLE deliveries (
    id uuid PRIMARY KEY,
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    campaign_id uuid REFERENCES campaigns(id) ON DELETE SET NULL,
    contact_id uuid REFERENCES contacts(id) ON DELETE SET NULL,
    interaction_id uuid REFERENCES interactions(id) ON DELETE SET NULL,
    channel text NOT NULL,                      -- sms | voice | email
    to_address text NOT NULL,
    from_address text,
    body text,
    status text NOT NULL DEFAULT 'sent',        -- sent | failed | suppressed
    attrs jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL
);
CREATE INDEX deliveries_tenant ON deliveries (tenant_id, seq);

-- Secrets the server generates once and every replica shares (e.g. the Leads JWT key).
CREATE TABLE server_secrets (
    name text PRIMARY KEY,
    value text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
