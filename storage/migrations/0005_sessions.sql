-- Agent sessions and the service URLs of instances.

CREATE TABLE sessions (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES orgs(id),
    instance_id    TEXT NOT NULL REFERENCES instances(id),
    preset_id      TEXT,
    status         TEXT NOT NULL,
    initial_prompt TEXT NOT NULL DEFAULT '',
    error          TEXT NOT NULL DEFAULT '',
    last_commit    TEXT NOT NULL DEFAULT '',
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);

CREATE INDEX sessions_instance ON sessions (instance_id, created_at, id);

CREATE TABLE service_urls (
    code         TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL,
    instance_id  TEXT NOT NULL REFERENCES instances(id),
    session_id   TEXT NOT NULL DEFAULT '',
    service_type TEXT NOT NULL,
    port         INTEGER NOT NULL,
    public       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at   BIGINT NOT NULL
);

CREATE UNIQUE INDEX service_urls_one ON service_urls (instance_id, session_id, service_type);
