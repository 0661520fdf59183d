-- Organizations, API keys, instances and their lifecycle events. The audit
-- log lives in a database of its own (0006 drops the table older releases made).

CREATE TABLE orgs (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES orgs(id),
    name       TEXT NOT NULL,
    prefix     TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,
    admin      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE INDEX api_keys_org ON api_keys (org_id);

CREATE TABLE instances (
    id                 TEXT PRIMARY KEY,
    org_id             TEXT NOT NULL REFERENCES orgs(id),
    name               TEXT NOT NULL,
    status             TEXT NOT NULL,
    template_slug      TEXT NOT NULL,
    bundle_slug        TEXT NOT NULL DEFAULT '',
    bundle_revision_id TEXT NOT NULL DEFAULT '',
    vcs_type           TEXT NOT NULL,
    metadata           TEXT,
    created_at         BIGINT NOT NULL,
    archived_at        BIGINT
);

CREATE INDEX instances_org_created ON instances (org_id, created_at, id);

CREATE TABLE instance_events (
    id          TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL REFERENCES instances(id),
    event       TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL
);

CREATE INDEX instance_events_instance ON instance_events (instance_id, created_at, id);

