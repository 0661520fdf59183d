-- What the release before made beyond today's migrations 0001-0005: its
-- first migration also created the audit log in the main database.

CREATE TABLE audit_log (
    id          TEXT PRIMARY KEY,
    at          BIGINT NOT NULL,
    endpoint    TEXT NOT NULL,
    org_id      TEXT NOT NULL DEFAULT '',
    caller_kind TEXT NOT NULL DEFAULT '',
    caller_id   TEXT NOT NULL DEFAULT '',
    method      TEXT NOT NULL DEFAULT '',
    instance_id TEXT NOT NULL DEFAULT '',
    outcome     TEXT NOT NULL,
    duration_us BIGINT NOT NULL,
    request_id  TEXT NOT NULL DEFAULT ''
);

CREATE INDEX audit_log_org_at ON audit_log (org_id, at);
