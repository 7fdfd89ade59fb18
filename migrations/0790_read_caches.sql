-- Per-process read caches (src/domain/caches.rs) learn about changes through NOTIFY on
-- `switchboard_cache`, sent by the very transaction that makes the change. Payload:
-- `<scope>:<tenant id>`, or `*` (a TRUNCATE: every entry of every tenant).
--   t  the tenant row (settings, clock, epoch, delete) and its credentials
--   d  its directory: agents, menus, queues and their agents, phone numbers
--   w  its waiting interactions (queued, in a menu), the live part of wait times
--   s  its sessions (revoked or removed)
CREATE FUNCTION cache_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('switchboard_cache', '*');
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM pg_notify('switchboard_cache', TG_ARGV[0] || ':' || OLD.tenant_id::text);
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.tenant_id IS DISTINCT FROM OLD.tenant_id) THEN
        PERFORM pg_notify('switchboard_cache', TG_ARGV[0] || ':' || NEW.tenant_id::text);
    END IF;
    RETURN NULL;
END $$;

-- The tenants table names itself by `id`.
CREATE FUNCTION cache_notify_tenant() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('switchboard_cache', '*');
    ELSE
        PERFORM pg_notify('switchboard_cache', 't:' || OLD.id::text);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER cache_notify_rows AFTER UPDATE OR DELETE ON tenants
    FOR EACH ROW EXECUTE FUNCTION cache_notify_tenant();
CREATE TRIGGER cache_notify_truncate AFTER TRUNCATE ON tenants
    FOR EACH STATEMENT EXECUTE FUNCTION cache_notify_tenant();

CREATE TRIGGER cache_notify_rows AFTER INSERT OR UPDATE OR DELETE ON credentials
    FOR EACH ROW EXECUTE FUNCTION cache_notify('t');
CREATE TRIGGER cache_notify_truncate AFTER TRUNCATE ON credentials
    FOR EACH STATEMENT EXECUTE FUNCTION cache_notify('t');

CREATE TRIGGER cache_notify_rows AFTER INSERT OR UPDATE OR DELETE ON agents
    FOR EACH ROW EXECUTE FUNCTION cache_notify('d');
CREATE TRIGGER cache_notify_truncate AFTER TRUNCATE ON agents
    FOR EACH STATEMENT EXECUTE FUNCTION cache_notify('d');
CREATE TRIGGER cache_notify_rows AFTER INSERT OR UPDATE OR DELETE ON menus
    FOR EACH ROW EXECUTE FUNCTION cache_notify('d');
CREATE TRIGGER cache_notify_truncate AFTER TRUNCATE ON menus
    FOR EACH STATEMENT EXECUTE FUNCTION cache_notify('d');
CREATE TRIGGER cache_notify_rows AFTER INSERT OR UPDATE OR DELETE ON queues
    FOR EACH ROW EXECUTE FUNCTION cache_notify('d');
CREATE TRIGGER cache_notify_truncate AFTER TRUNCATE ON queues
    FOR EACH STATEMENT EXECUTE FUNCTION cache_notify('d');
CREATE TRIGGER cache_notify_rows AFTER INSERT OR UPDATE OR DELETE ON queue_agents
    FOR EACH ROW EXECUTE FUNCTION cache_notify('d');
CREATE TRIGGER cache_notify_truncate AFTER TRUNCATE ON queue_agents
    FOR EACH STATEMENT EXECUTE FUNCTION cache_notify('d');
CREATE TRIGGER cache_notify_rows AFTER INSERT OR UPDATE OR DELETE ON phone_numbers
    FOR EACH ROW EXECUTE FUNCTION cache_notify('d');
CREATE TRIGGER cache_notify_truncate AFTER TRUNCATE ON phone_numbers
    FOR EACH STATEMENT EXECUTE FUNCTION cache_notify('d');

-- Only interactions that are (or were) waiting in a menu matter; others notify nobody.
CREATE TRIGGER cache_notify_insert AFTER INSERT ON interactions
    FOR EACH ROW WHEN (NEW.status = 'queued' AND NEW.menu_id IS NOT NULL)
    EXECUTE FUNCTION cache_notify('w');
CREATE TRIGGER cache_notify_update AFTER UPDATE ON interactions
    FOR EACH ROW WHEN ((OLD.status = 'queued' AND OLD.menu_id IS NOT NULL) OR (NEW.status = 'queued' AND NEW.menu_id IS NOT NULL))
    EXECUTE FUNCTION cache_notify('w');
CREATE TRIGGER cache_notify_delete AFTER DELETE ON interactions
    FOR EACH ROW WHEN (OLD.status = 'queued' AND OLD.menu_id IS NOT NULL)
    EXECUTE FUNCTION cache_notify('w');
CREATE TRIGGER cache_notify_truncate AFTER TRUNCATE ON interactions
    FOR EACH STATEMENT EXECUTE FUNCTION cache_notify('w');

-- A session touch moves only `expires_at` / `last_used_at`: no notification.
CREATE TRIGGER cache_notify_update AFTER UPDATE OF revoked_at, tenant_id, credential_id, kind, token_digest ON auth_sessions
    FOR EACH ROW EXECUTE FUNCTION cache_notify('s');
CREATE TRIGGER cache_notify_delete AFTER DELETE ON auth_sessions
    FOR EACH ROW EXECUTE FUNCTION cache_notify('s');
CREATE TRIGGER cache_notify_truncate AFTER TRUNCATE ON auth_sessions
    FOR EACH STATEMENT EXECUTE FUNCTION cache_notify('s');
