-- The engine's batches and the staged imports set session_replication_role = replica (when
-- the role may) to skip per-row foreign-key triggers; ordinary triggers are skipped too.
-- The cache and fault notifications must fire whoever writes (an engine batch creates and
-- moves call interactions), so they fire ALWAYS, in every replication role.

ALTER TABLE tenants ENABLE ALWAYS TRIGGER cache_notify_rows;
ALTER TABLE tenants ENABLE ALWAYS TRIGGER cache_notify_truncate;
ALTER TABLE credentials ENABLE ALWAYS TRIGGER cache_notify_rows;
ALTER TABLE credentials ENABLE ALWAYS TRIGGER cache_notify_truncate;
ALTER TABLE agents ENABLE ALWAYS TRIGGER cache_notify_rows;
ALTER TABLE agents ENABLE ALWAYS TRIGGER cache_notify_truncate;
ALTER TABLE menus ENABLE ALWAYS TRIGGER cache_notify_rows;
ALTER TABLE menus ENABLE ALWAYS TRIGGER cache_notify_truncate;
ALTER TABLE queues ENABLE ALWAYS TRIGGER cache_notify_rows;
ALTER TABLE queues ENABLE ALWAYS TRIGGER cache_notify_truncate;
ALTER TABLE queue_agents ENABLE ALWAYS TRIGGER cache_notify_rows;
ALTER TABLE queue_agents ENABLE ALWAYS TRIGGER cache_notify_truncate;
ALTER TABLE phone_numbers ENABLE ALWAYS TRIGGER cache_notify_rows;
ALTER TABLE phone_numbers ENABLE ALWAYS TRIGGER cache_notify_truncate;
ALTER TABLE interactions ENABLE ALWAYS TRIGGER cache_notify_insert;
ALTER TABLE interactions ENABLE ALWAYS TRIGGER cache_notify_update;
ALTER TABLE interactions ENABLE ALWAYS TRIGGER cache_notify_delete;
ALTER TABLE interactions ENABLE ALWAYS TRIGGER cache_notify_truncate;
ALTER TABLE auth_sessions ENABLE ALWAYS TRIGGER cache_notify_update;
ALTER TABLE auth_sessions ENABLE ALWAYS TRIGGER cache_notify_delete;
ALTER TABLE auth_sessions ENABLE ALWAYS TRIGGER cache_notify_truncate;
ALTER TABLE faults ENABLE ALWAYS TRIGGER faults_notify_rows;
ALTER TABLE faults ENABLE ALWAYS TRIGGER faults_notify_truncate;
