-- The schema a data dir made by the release before state_events and the
-- audit log's own database holds: migrations 0001 to 0005 as they were.
-- Organizations, API keys, instances and their lifecycle events, audit log.

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

-- Uploaded files, resources with revisions, bundles with revisions.

CREATE TABLE files (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES orgs(id),
    filename   TEXT NOT NULL,
    mime_type  TEXT NOT NULL,
    size       BIGINT NOT NULL,
    sha256     TEXT NOT NULL,
    blob_key   TEXT NOT NULL,
    status     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX files_org_created ON files (org_id, status, created_at, id);

CREATE TABLE resources (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs(id),
    slug        TEXT NOT NULL,
    name        TEXT,
    description TEXT,
    created_at  BIGINT NOT NULL
);

CREATE UNIQUE INDEX resources_org_slug ON resources (org_id, slug);

CREATE TABLE resource_revisions (
    id          TEXT PRIMARY KEY,
    resource_id TEXT NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
    file_id     TEXT NOT NULL REFERENCES files(id),
    label       TEXT,
    created_at  BIGINT NOT NULL
);

CREATE INDEX resource_revisions_resource ON resource_revisions (resource_id, created_at, id);
CREATE INDEX resource_revisions_file ON resource_revisions (file_id);

CREATE TABLE bundles (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs(id),
    slug        TEXT NOT NULL,
    name        TEXT,
    description TEXT,
    created_at  BIGINT NOT NULL,
    deleted_at  BIGINT
);

CREATE UNIQUE INDEX bundles_org_slug_live ON bundles (org_id, slug) WHERE deleted_at IS NULL;

CREATE TABLE bundle_revisions (
    id         TEXT PRIMARY KEY,
    bundle_id  TEXT NOT NULL REFERENCES bundles(id),
    file_id    TEXT NOT NULL REFERENCES files(id),
    version    TEXT NOT NULL,
    manifest   TEXT NOT NULL,
    blob_key   TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE UNIQUE INDEX bundle_revisions_version ON bundle_revisions (bundle_id, version);
CREATE INDEX bundle_revisions_file ON bundle_revisions (file_id);

-- Worker nodes and their one-time enrollment tokens.

CREATE TABLE nodes (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    hostname          TEXT NOT NULL DEFAULT '',
    labels            TEXT NOT NULL DEFAULT '[]',
    version           TEXT NOT NULL DEFAULT '',
    credential_hash   TEXT NOT NULL UNIQUE,
    draining          BOOLEAN NOT NULL DEFAULT FALSE,
    metrics           TEXT,
    last_heartbeat_at BIGINT,
    connected_at      BIGINT,
    created_at        BIGINT NOT NULL
);

CREATE TABLE node_enroll_tokens (
    id         TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    labels     TEXT NOT NULL DEFAULT '[]',
    created_by TEXT NOT NULL DEFAULT '',
    expires_at BIGINT NOT NULL,
    spent_at   BIGINT,
    node_id    TEXT,
    created_at BIGINT NOT NULL
);

-- Sandboxes (one live per instance) and the commands run in them.

CREATE TABLE sandboxes (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES orgs(id),
    instance_id      TEXT NOT NULL REFERENCES instances(id),
    node_id          TEXT NOT NULL,
    state            TEXT NOT NULL,
    paused_by        TEXT NOT NULL DEFAULT '',
    isolation        TEXT NOT NULL DEFAULT '',
    limits           TEXT NOT NULL DEFAULT '{}',
    token_hash       TEXT NOT NULL,
    idle_timeout_ms  BIGINT NOT NULL DEFAULT 0,
    error            TEXT NOT NULL DEFAULT '',
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    last_activity_at BIGINT NOT NULL
);

CREATE UNIQUE INDEX sandboxes_one_live ON sandboxes (instance_id)
    WHERE state IN ('creating', 'running', 'paused', 'terminating');
CREATE INDEX sandboxes_node ON sandboxes (node_id, state);

CREATE TABLE execs (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    sandbox_id  TEXT NOT NULL REFERENCES sandboxes(id),
    node_id     TEXT NOT NULL,
    command     TEXT NOT NULL,
    status      TEXT NOT NULL,
    exit_code   INTEGER,
    timed_out   BOOLEAN NOT NULL DEFAULT FALSE,
    stdout_size BIGINT NOT NULL DEFAULT 0,
    stderr_size BIGINT NOT NULL DEFAULT 0,
    detail      TEXT NOT NULL DEFAULT '',
    caller_id   TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    finished_at BIGINT,
    duration_ms BIGINT
);

CREATE INDEX execs_instance ON execs (instance_id, created_at, id);
CREATE INDEX execs_running ON execs (status, node_id);

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

