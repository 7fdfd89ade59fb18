-- What every new contact costs, made smaller (single adds, imports, uploads):
--
--   contacts_open (tenant, campaign) WHERE status IN (pending … queued) is replaced by
--   contacts_in_flight, the same over the in-flight states only. A new contact is
--   `pending`, so it fed contacts_open AND contacts_claimable; now only the latter. The
--   engine's "is a contact still open" check asks both (pending and retry_wait through
--   contacts_claimable, the in-flight states through contacts_in_flight).
--
--   The foreign key contacts.tenant_id -> tenants is dropped: a contact's tenant is its
--   campaign's (every insert names both and checks the campaign in that tenant), and the
--   campaign's own key to its tenant deletes its contacts with it (campaign_id keeps
--   ON DELETE CASCADE), so the check each insert ran against the tenant row (a row lock
--   on it, shared by every concurrent add of the tenant) guarded nothing more.
CREATE INDEX contacts_in_flight ON contacts (tenant_id, campaign_id)
    WHERE status IN ('dialing', 'connected', 'sending', 'queued');
DROP INDEX IF EXISTS contacts_open;
ALTER TABLE contacts DROP CONSTRAINT IF EXISTS contacts_tenant_id_fkey;

-- The read caches keep what an add to a campaign needs (the campaign row and the
-- tenant's phone numbers): a campaign's update or delete drops its tenant's entries
-- (scope `c`) on every replica. ENABLE ALWAYS: batches that run with
-- session_replication_role = replica still notify.
CREATE TRIGGER cache_notify_rows AFTER UPDATE OR DELETE ON campaigns
    FOR EACH ROW EXECUTE FUNCTION cache_notify('c');
CREATE TRIGGER cache_notify_truncate AFTER TRUNCATE ON campaigns
    FOR EACH STATEMENT EXECUTE FUNCTION cache_notify('c');
ALTER TABLE campaigns ENABLE ALWAYS TRIGGER cache_notify_rows;
ALTER TABLE campaigns ENABLE ALWAYS TRIGGER cache_notify_truncate;
