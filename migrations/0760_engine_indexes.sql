-- Indexes that keep the engine's hot queries cheap on large campaigns.

-- The claim of due attempts and the "campaigns of the next due attempts" both read
-- `ORDER BY due_at, seq LIMIT n` among a tenant's attempts in flight: with `seq` in the
-- index they walk it in order instead of sorting every attempt due at one instant (a
-- 100,000-contact campaign has them all due at the same second).
CREATE INDEX attempts_tenant_due_seq ON attempts (tenant_id, due_at, seq) WHERE state <> 'done';
DROP INDEX IF EXISTS attempts_tenant_due;

-- The ONC progress-callback ordering check (`domain::progress::earlier_pending`): a
-- contact's earlier `progress` jobs still queued or running.
CREATE INDEX jobs_pending_by_contact ON jobs (tenant_id, kind, (payload->>'contact_id'), seq)
    WHERE status IN ('queued', 'running');

-- Redundant indexes every attempt and outbox row paid for: every query of attempts in
-- flight names its tenant (served by `attempts_tenant_due_seq`), and a b-tree is read
-- backwards as cheaply as forwards (`deliveries_tenant` serves newest-first).
DROP INDEX IF EXISTS attempts_due;
DROP INDEX IF EXISTS deliveries_tenant_desc;
