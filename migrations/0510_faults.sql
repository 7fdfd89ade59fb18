-- Faults and latency injected into a tenant's dialect traffic (admin `/faults`).
--
-- `remaining` counts down from `times` (NULL: unlimited); a fault whose count reaches
-- zero is deleted. `matched` counts the requests a seeded fault matched, so the n-th
-- matching request gets the same decision on every replica and every run.
CREATE TABLE faults (
    id uuid PRIMARY KEY,
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    dialect text,
    method text,
    path text NOT NULL DEFAULT '*',
    kind text NOT NULL CHECK (kind IN ('status', 'delay', 'reset', 'timeout', 'malformed')),
    status integer,
    body jsonb,
    retry_after integer,
    delay_ms integer,
    shape text,
    probability double precision NOT NULL DEFAULT 1 CHECK (probability >= 0 AND probability <= 1),
    seed bigint,
    times integer,
    remaining integer,
    matched bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL
);
CREATE INDEX faults_tenant ON faults (tenant_id, seq);

-- Every replica caches which faults a tenant has; a change tells them through NOTIFY in
-- the changing transaction (payload: the tenant id, or '*' after a TRUNCATE). Counter
-- updates (`matched`, `remaining`) change no definition and notify nobody.
CREATE FUNCTION faults_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('switchboard_faults', '*');
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM pg_notify('switchboard_faults', OLD.tenant_id::text);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        PERFORM pg_notify('switchboard_faults', NEW.tenant_id::text);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER faults_notify_rows
    AFTER INSERT OR DELETE OR UPDATE OF tenant_id, dialect, method, path, kind, status, body,
        retry_after, delay_ms, shape, probability, seed, times
    ON faults FOR EACH ROW EXECUTE FUNCTION faults_notify();
CREATE TRIGGER faults_notify_truncate
    AFTER TRUNCATE ON faults FOR EACH STATEMENT EXECUTE FUNCTION faults_notify();
