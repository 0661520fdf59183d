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
