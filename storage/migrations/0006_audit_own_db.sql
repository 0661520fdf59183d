-- The audit log moved to a database of its own (audit.db).
DROP INDEX IF EXISTS audit_log_org_at;
DROP TABLE IF EXISTS audit_log;
