-- The delivery engine: attempts as rows, claimed by due time; contacts that wait for a
-- retry; the outbox row of each attempt; a tenant's own carrier outcome rules.

-- One attempt of one delivery of a contact (or of an interaction). `state` moves
-- sending|dialing → connected → done on the tenant clock; `due_at` is when the next move
-- is due (NULL once done). `decided` is the carrier's outcome, known at the start and
-- shown as `outcome` once the attempt is done.
CREATE TABLE attempts (
    id uuid PRIMARY KEY,
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    campaign_id uuid REFERENCES campaigns(id) ON DELETE CASCADE,
    contact_id uuid REFERENCES contacts(id) ON DELETE CASCADE,
    interaction_id uuid REFERENCES interactions(id) ON DELETE SET NULL,
    channel text NOT NULL,                      -- voice | sms | email
    n integer NOT NULL,                         -- 1 = first attempt, 2 = first retry, …
    to_address text NOT NULL,
    from_address text,
    body text,
    subject text,
    state text NOT NULL,                        -- sending | dialing | connected | done
    decided text NOT NULL,                      -- the carrier's outcome (Outcome::as_str)
    outcome text,                               -- = decided once done
    sink text NOT NULL DEFAULT 'simulated',
    dial_timeout_secs integer NOT NULL DEFAULT 30,
    started_at timestamptz NOT NULL,
    answered_at timestamptz,
    ended_at timestamptz,
    duration_ms bigint,
    due_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX attempts_due ON attempts (due_at) WHERE state <> 'done';
CREATE INDEX attempts_tenant_due ON attempts (tenant_id, due_at) WHERE state <> 'done';
CREATE INDEX attempts_contact ON attempts (tenant_id, contact_id, n);
CREATE INDEX attempts_campaign ON attempts (tenant_id, campaign_id);

ALTER TABLE contacts ADD COLUMN last_outcome text;
ALTER TABLE contacts ADD COLUMN last_attempt_at timestamptz;

-- Contacts the engine may start an attempt for: never attempted, or waiting for a retry.
CREATE INDEX contacts_claimable ON contacts (tenant_id, campaign_id, priority DESC, seq)
    WHERE status IN ('pending', 'retry_wait');
CREATE INDEX contacts_retry_due ON contacts (tenant_id, campaign_id, next_attempt_at)
    WHERE status = 'retry_wait';
-- Contacts not final yet (the completion check of a campaign).
CREATE INDEX contacts_open ON contacts (tenant_id, campaign_id)
    WHERE status IN ('pending', 'retry_wait', 'dialing', 'connected', 'sending', 'queued');

-- The outbox row of an attempt follows it (status sending|dialing|connected, then the
-- outcome; `suppressed` when the number was suppressed at send time).
ALTER TABLE deliveries ADD COLUMN attempt_id uuid;
ALTER TABLE deliveries ADD COLUMN n integer;
ALTER TABLE deliveries ADD COLUMN outcome text;
ALTER TABLE deliveries ADD COLUMN sink text;
ALTER TABLE deliveries ADD COLUMN subject text;
ALTER TABLE deliveries ADD COLUMN updated_at timestamptz;
ALTER TABLE deliveries ADD COLUMN ended_at timestamptz;
CREATE UNIQUE INDEX deliveries_attempt ON deliveries (attempt_id) WHERE attempt_id IS NOT NULL;
CREATE INDEX deliveries_tenant_desc ON deliveries (tenant_id, seq DESC);

-- A tenant's own outcome rules of the simulated carrier, checked in `position` order
-- before the built-in table (PUT replaces them all).
CREATE TABLE carrier_rules (
    id uuid PRIMARY KEY,
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    position integer NOT NULL,
    pattern text NOT NULL,
    channel text,                               -- voice | sms | email; NULL = every channel
    outcomes text[] NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX carrier_rules_tenant ON carrier_rules (tenant_id, position);
